// C += α·A·B in float64 for column-major C, with A and B read through strided views (so transposes
// and row-major inputs cost nothing) and packed into cache-sized panels (Goto & van de Geijn, "Anatomy
// of high-performance matrix multiplication", ACM TOMS 34(3), 2008).
#pragma once

#include <cstddef>

#include "simd.h"

namespace esmselect {

// Element (i, k) of a matrix lives at p[i·rowStride + k·colStride]; float inputs are widened exactly.
template <typename T>
struct View {
  const T* p;
  std::ptrdiff_t rowStride;
  std::ptrdiff_t colStride;
  T at(std::ptrdiff_t i, std::ptrdiff_t k) const { return p[i * rowStride + k * colStride]; }
  View shifted(std::ptrdiff_t i, std::ptrdiff_t k) const { return {p + i * rowStride + k * colStride, rowStride, colStride}; }
};

enum class Structure {
  General,
  // Only C(i, j) with i ≥ j is wanted (a symmetric product): tiles wholly above the diagonal are skipped.
  LowerC,
  // A(i, k) = 0 for k < i (an upper-trapezoidal factor): each k-panel only touches the rows above it.
  UpperTrapezoidalA,
};

// Packing buffers, reused between calls (one per thread).
struct GemmBuffers {
  Buffer a, b;
};

template <typename TA, typename TB>
void gemm(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, double alpha, View<TA> a, View<TB> b, double* c, std::ptrdiff_t ldc,
          Structure structure, GemmBuffers& buffers);

}  // namespace esmselect
