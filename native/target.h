// The N-independent factorisation of a target (the native twin of src/rank/target.ts).
#pragma once

#include <cstddef>
#include <vector>

#include "gemm.h"

namespace esmselect {

struct GramFactor {
  // Rows of R (rank × m, row-major, zeros left of the diagonal) with Pᵀ(X̃ᵀX̃)P ≈ RᵀR, m = d + 1.
  std::vector<double> r;
  std::ptrdiff_t rank = 0;
  std::vector<int> perm;
  // X̃ᵀy for every label column (length m each, one after another).
  std::vector<double> xty;
};

// X̃ = [X, 1] for the row-major n×d float32 embeddings x; columns holds columnCount label vectors of
// length n one after another. X̃ᵀX̃ is accumulated in float64 and factored by pivoted Cholesky.
GramFactor factorTarget(const float* x, std::ptrdiff_t n, std::ptrdiff_t d, const double* columns, int columnCount, GemmBuffers& buffers);

// Cholesky factorisation with complete pivoting of the symmetric positive semi-definite m×m matrix
// whose lower triangle is in g (column-major, destroyed), stopping at the numerical rank: LAPACK dpstf2
// with its default tolerance m·ε·max(diag), the same decisions as src/linalg/cholesky.ts.
void pivotedCholesky(double* g, std::ptrdiff_t m, GramFactor& out);

}  // namespace esmselect
