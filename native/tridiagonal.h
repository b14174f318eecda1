// Eigenvalues of a symmetric matrix and projections of a few vectors on its eigenvectors, without
// forming the eigenvectors: the native twin of src/linalg/spectrum.ts (same reflectors, same QL).
#pragma once

#include <cstddef>
#include "gemm.h"

namespace esmselect {

struct TridiagonalBuffers {
  Buffer tau, panel, y;
  GemmBuffers gemm;
};

// Reduces the symmetric n×n matrix whose lower triangle is in a (column-major, leading dimension lda;
// destroyed) to tridiagonal T = Qᵀ A Q: diag receives T's diagonal, off[k] couples k and k+1
// (off[n-1] = 0). Each of the rhsCount vectors at rhs + r·n (length n) is replaced by Qᵀ·rhs.
// Householder reflectors as LAPACK's dsytrd (blocked with dlatrd panels, the trailing update as one
// rank-2k product).
void tridiagonalize(double* a, std::ptrdiff_t lda, std::ptrdiff_t n, double* diag, double* off, double* rhs, int rhsCount,
                    TridiagonalBuffers& buffers);

// Eigenvalues of the tridiagonal (diag, off) by implicit QL with Wilkinson shifts (EISPACK tql2),
// applying each rotation to the rhs vectors so that Qᵀr becomes Vᵀr. diag receives the eigenvalues
// (unsorted); off is destroyed. Returns false if an eigenvalue needs more than 60 iterations.
bool tridiagonalQL(std::ptrdiff_t n, double* diag, double* off, double* rhs, int rhsCount);

}  // namespace esmselect
