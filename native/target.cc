#include "target.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "simd.h"

namespace esmselect {

void pivotedCholesky(double* a, std::ptrdiff_t m, GramFactor& out) {
  constexpr double kEps = 2.220446049250313e-16;
  auto at = [a, m](std::ptrdiff_t i, std::ptrdiff_t j) -> double& { return a[i + j * m]; };
  out.perm.resize(m);
  for (std::ptrdiff_t i = 0; i < m; i++) out.perm[i] = static_cast<int>(i);
  double maxDiag = 0;
  for (std::ptrdiff_t i = 0; i < m; i++) maxDiag = std::max(maxDiag, at(i, i));
  const double tolerance = static_cast<double>(m) * kEps * maxDiag;

  std::ptrdiff_t rank = 0;
  for (std::ptrdiff_t j = 0; j < m; j++) {
    std::ptrdiff_t p = j;
    for (std::ptrdiff_t i = j + 1; i < m; i++)
      if (at(i, i) > at(p, p)) p = i;
    if (!(at(p, p) > tolerance)) break;
    if (p != j) {
      // Symmetric swap of j and p touching only the lower triangle (dpstf2), plus the finished columns of L.
      std::swap(at(j, j), at(p, p));
      for (std::ptrdiff_t c = 0; c < j; c++) std::swap(at(j, c), at(p, c));
      for (std::ptrdiff_t i = j + 1; i < p; i++) std::swap(at(i, j), at(p, i));
      for (std::ptrdiff_t i = p + 1; i < m; i++) std::swap(at(i, j), at(i, p));
      std::swap(out.perm[j], out.perm[p]);
    }
    const double pivot = std::sqrt(at(j, j));
    at(j, j) = pivot;
    double* lj = &at(0, j);
    for (std::ptrdiff_t i = j + 1; i < m; i++) lj[i] /= pivot;
    for (std::ptrdiff_t k = j + 1; k < m; k++) axpy(m - k, -lj[k], lj + k, &at(k, k));
    rank = j + 1;
  }
  // Column j of L (rows ≥ j) is row j of R: the same memory once the entries above the diagonal are zero.
  out.rank = rank;
  out.r.assign(a, a + rank * m);
  for (std::ptrdiff_t i = 0; i < rank; i++) std::fill(out.r.begin() + i * m, out.r.begin() + i * m + i, 0.0);
}

GramFactor factorTarget(const float* x, std::ptrdiff_t n, std::ptrdiff_t d, const double* columns, int columnCount, GemmBuffers& buffers) {
  const std::ptrdiff_t m = d + 1;
  Buffer g(static_cast<std::size_t>(m) * m, 0.0);
  // XᵀX (lower), then the row and corner that the column of ones adds: X̃ᵀX̃ = [XᵀX, Xᵀ1; 1ᵀX, n].
  gemm<float, float>(d, d, n, 1.0, View<float>{x, 1, d}, View<float>{x, d, 1}, g.data(), m, Structure::LowerC, buffers);
  std::vector<double> sums(d, 0.0);
  for (std::ptrdiff_t i = 0; i < n; i++)
    for (std::ptrdiff_t k = 0; k < d; k++) sums[k] += x[i * d + k];
  for (std::ptrdiff_t k = 0; k < d; k++) g[d + k * m] = sums[k];
  g[d + d * m] = static_cast<double>(n);

  GramFactor out;
  out.xty.assign(static_cast<std::size_t>(columnCount) * m, 0.0);
  for (int c = 0; c < columnCount; c++) {
    const double* y = columns + static_cast<std::ptrdiff_t>(c) * n;
    double* v = out.xty.data() + static_cast<std::ptrdiff_t>(c) * m;
    for (std::ptrdiff_t i = 0; i < n; i++) {
      const double yi = y[i];
      if (yi == 0) continue;
      for (std::ptrdiff_t k = 0; k < d; k++) v[k] += x[i * d + k] * yi;
      v[d] += yi;
    }
  }
  pivotedCholesky(g.data(), m, out);
  return out;
}

}  // namespace esmselect
