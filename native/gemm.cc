#include "gemm.h"

#include <algorithm>

#include "simd.h"

namespace esmselect {
namespace {

// Micro-tile: kMr rows (kVectors vectors) × kNr columns of C held in registers. 24×8 uses 24 of the 32
// AVX-512 registers; 8×6 uses 12 of the 16 AVX2 ones.
#if defined(__AVX512F__)
constexpr int kVectors = 3, kNr = 8;
#elif defined(__AVX__)
constexpr int kVectors = 2, kNr = 6;
#else
constexpr int kVectors = 2, kNr = 4;
#endif
constexpr int kMr = kVectors * kLanes;
// kc×kNr of B stays in L1 while a kMc×kc block of A sits in L2.
constexpr std::ptrdiff_t kKc = 256;
constexpr std::ptrdiff_t kMc = kMr * 6;
constexpr std::ptrdiff_t kNc = 4096;

// M(0:extent, 0:kc) into panels of `width` rows: panel p holds, for each k, rows p·width … p·width+width-1
// (zero padded), the order in which the micro-kernel reads them. A is packed as is, B transposed.
template <int width, typename T>
void packPanels(std::ptrdiff_t extent, std::ptrdiff_t kc, View<T> m, double* out) {
  for (std::ptrdiff_t i0 = 0; i0 < extent; i0 += width) {
    const std::ptrdiff_t rows = std::min<std::ptrdiff_t>(width, extent - i0);
    for (std::ptrdiff_t k = 0; k < kc; k++) {
      std::ptrdiff_t r = 0;
      for (; r < rows; r++) out[r] = m.at(i0 + r, k);
      for (; r < width; r++) out[r] = 0;
      out += width;
    }
  }
}

template <typename T>
View<T> transposed(View<T> m) {
  return {m.p, m.colStride, m.rowStride};
}

// C(0:rows, 0:cols) += α · Apanel · Bpanel over kc steps.
void microKernel(std::ptrdiff_t kc, const double* __restrict a, const double* __restrict b, double* c, std::ptrdiff_t ldc, double alpha, int rows,
                 int cols) {
  vd acc[kNr][kVectors] = {};
  for (std::ptrdiff_t k = 0; k < kc; k++) {
    vd av[kVectors];
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; v++) av[v] = load(a + v * kLanes);
#pragma GCC unroll 8
    for (int j = 0; j < kNr; j++) {
      const vd bj = splat(b[j]);
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; v++) acc[j][v] += av[v] * bj;
    }
    a += kMr;
    b += kNr;
  }
  const vd scale = splat(alpha);
  if (rows == kMr && cols == kNr) {
#pragma GCC unroll 8
    for (int j = 0; j < kNr; j++) {
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; v++) {
        double* cj = c + j * ldc + v * kLanes;
        store(cj, load(cj) + scale * acc[j][v]);
      }
    }
    return;
  }
  alignas(64) double tile[kNr][kMr];
  for (int j = 0; j < kNr; j++)
    for (int v = 0; v < kVectors; v++) store(&tile[j][v * kLanes], scale * acc[j][v]);
  for (int j = 0; j < cols; j++)
    for (int i = 0; i < rows; i++) c[i + j * ldc] += tile[j][i];
}

}  // namespace

template <typename TA, typename TB>
void gemm(std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, double alpha, View<TA> a, View<TB> b, double* c, std::ptrdiff_t ldc,
          Structure structure, GemmBuffers& buffers) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  const std::ptrdiff_t ncMax = std::min(kNc, n);
  buffers.b.resize(static_cast<std::size_t>(kKc) * ((ncMax + kNr - 1) / kNr) * kNr);
  buffers.a.resize(static_cast<std::size_t>(kKc) * kMc);
  double* packedB = buffers.b.data();
  double* packedA = buffers.a.data();
  for (std::ptrdiff_t jc = 0; jc < n; jc += kNc) {
    const std::ptrdiff_t nc = std::min(kNc, n - jc);
    for (std::ptrdiff_t pc = 0; pc < k; pc += kKc) {
      const std::ptrdiff_t kc = std::min(kKc, k - pc);
      const std::ptrdiff_t rowsEnd = structure == Structure::UpperTrapezoidalA ? std::min(m, pc + kc) : m;
      // Rows above the first column of this block can only hold tiles above the diagonal.
      const std::ptrdiff_t rowsBegin = structure == Structure::LowerC ? (jc / kMr) * kMr : 0;
      if (rowsBegin >= rowsEnd) continue;
      packPanels<kNr>(nc, kc, transposed(b.shifted(pc, jc)), packedB);
      for (std::ptrdiff_t ic = rowsBegin; ic < rowsEnd; ic += kMc) {
        const std::ptrdiff_t mc = std::min(kMc, rowsEnd - ic);
        packPanels<kMr>(mc, kc, a.shifted(ic, pc), packedA);
        for (std::ptrdiff_t jr = 0; jr < nc; jr += kNr) {
          const int cols = static_cast<int>(std::min<std::ptrdiff_t>(kNr, nc - jr));
          for (std::ptrdiff_t ir = 0; ir < mc; ir += kMr) {
            const int rows = static_cast<int>(std::min<std::ptrdiff_t>(kMr, mc - ir));
            const std::ptrdiff_t i0 = ic + ir, j0 = jc + jr;
            if (structure == Structure::LowerC && i0 + rows - 1 < j0) continue;
            // In an upper-trapezoidal A the rows from i0 down are zero left of column i0: skip those k.
            const std::ptrdiff_t skip = structure == Structure::UpperTrapezoidalA ? std::clamp<std::ptrdiff_t>(i0 - pc, 0, kc) : 0;
            microKernel(kc - skip, packedA + ir * kc + skip * kMr, packedB + jr * kc + skip * kNr, c + i0 + j0 * ldc, ldc, alpha, rows, cols);
          }
        }
      }
    }
  }
}

template void gemm<double, double>(std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, double, View<double>, View<double>, double*, std::ptrdiff_t,
                                   Structure, GemmBuffers&);
template void gemm<float, float>(std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, double, View<float>, View<float>, double*, std::ptrdiff_t, Structure,
                                 GemmBuffers&);

}  // namespace esmselect
