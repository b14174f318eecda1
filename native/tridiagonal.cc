#include "tridiagonal.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "simd.h"

namespace esmselect {
namespace {

// Panel width and the size below which the rest is reduced unblocked (LAPACK's NB and NX for dsytrd).
constexpr std::ptrdiff_t kPanel = 32;
constexpr std::ptrdiff_t kCrossover = 128;

// Householder reflector H = I − τ v vᵀ with v = [1; x/(α−β)] mapping [α; x] to [β; 0] (Golub & Van Loan,
// Alg. 5.1.1, β = −sign(α)‖[α; x]‖ as LAPACK's dlarfg). x (length len−1) is overwritten with v's tail,
// alpha with β; returns τ (0 when x is already 0: H = I).
double reflector(std::ptrdiff_t len, double& alpha, double* x) {
  const double tail = dot(len - 1, x, x);
  if (tail == 0) return 0;
  const double norm = std::sqrt(alpha * alpha + tail);
  const double beta = alpha >= 0 ? -norm : norm;
  const double tau = (beta - alpha) / beta;
  const double scale = 1 / (alpha - beta);
  for (std::ptrdiff_t i = 0; i < len - 1; i++) x[i] *= scale;
  alpha = beta;
  return tau;
}

// Four consecutive columns of a column-major matrix, the unit of the level-2 kernels below: each load of
// x or y then serves four columns.
struct FourColumns {
  const double *c0, *c1, *c2, *c3;
  FourColumns(const double* a, std::ptrdiff_t lda) : c0(a), c1(a + lda), c2(a + 2 * lda), c3(a + 3 * lda) {}
};

// y = A x for the symmetric n×n matrix stored in the lower triangle of a (column-major). One pass over
// the triangle: each column feeds both the dot product for y[j] and the update of y[j+1:]. Four
// columns at a time.
void symvLower(std::ptrdiff_t n, const double* a, std::ptrdiff_t lda, const double* x, double* y) {
  std::fill(y, y + n, 0.0);
  std::ptrdiff_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const auto [c0, c1, c2, c3] = FourColumns(a + j * lda, lda);
    const double* cols[4] = {c0, c1, c2, c3};
    for (int q = 0; q < 4; q++) {
      const double* cq = cols[q];
      y[j + q] += cq[j + q] * x[j + q];
      for (int r = q + 1; r < 4; r++) {
        y[j + r] += cq[j + r] * x[j + q];
        y[j + q] += cq[j + r] * x[j + r];
      }
    }
    const double x0 = x[j], x1 = x[j + 1], x2 = x[j + 2], x3 = x[j + 3];
    const vd v0 = splat(x0), v1 = splat(x1), v2 = splat(x2), v3 = splat(x3);
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::ptrdiff_t i = j + 4;
    // Scalar steps up to a cache-line boundary of column j: a full-width load that straddles two lines
    // costs two (the other columns share the alignment when lda is a multiple of the line).
    for (; i < n && reinterpret_cast<std::uintptr_t>(c0 + i) % 64 != 0; i++) {
      y[i] += c0[i] * x0 + c1[i] * x1 + c2[i] * x2 + c3[i] * x3;
      s0 += c0[i] * x[i];
      s1 += c1[i] * x[i];
      s2 += c2[i] * x[i];
      s3 += c3[i] * x[i];
    }
    vd t0{}, t1{}, t2{}, t3{};
    for (; i + kLanes <= n; i += kLanes) {
      const vd a0 = load(c0 + i), a1 = load(c1 + i), a2 = load(c2 + i), a3 = load(c3 + i);
      const vd xi = load(x + i);
      store(y + i, load(y + i) + a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3);
      t0 += a0 * xi;
      t1 += a1 * xi;
      t2 += a2 * xi;
      t3 += a3 * xi;
    }
    s0 += lanesSum(t0);
    s1 += lanesSum(t1);
    s2 += lanesSum(t2);
    s3 += lanesSum(t3);
    for (; i < n; i++) {
      y[i] += c0[i] * x0 + c1[i] * x1 + c2[i] * x2 + c3[i] * x3;
      s0 += c0[i] * x[i];
      s1 += c1[i] * x[i];
      s2 += c2[i] * x[i];
      s3 += c3[i] * x[i];
    }
    y[j] += s0;
    y[j + 1] += s1;
    y[j + 2] += s2;
    y[j + 3] += s3;
  }
  for (; j < n; j++) {
    const double* cj = a + j * lda;
    y[j] += cj[j] * x[j] + dot(n - j - 1, cj + j + 1, x + j + 1);
    axpy(n - j - 1, x[j], cj + j + 1, y + j + 1);
  }
}

// y += α A x for the len×cols column-major A (x[c] at x[c·incx]).
void gemvN(std::ptrdiff_t len, std::ptrdiff_t cols, const double* a, std::ptrdiff_t lda, const double* x, std::ptrdiff_t incx, double alpha,
           double* y) {
  std::ptrdiff_t c = 0;
  for (; c + 4 <= cols; c += 4) {
    const auto [a0, a1, a2, a3] = FourColumns(a + c * lda, lda);
    const double x0 = alpha * x[c * incx], x1 = alpha * x[(c + 1) * incx], x2 = alpha * x[(c + 2) * incx], x3 = alpha * x[(c + 3) * incx];
    for (std::ptrdiff_t i = 0; i < len; i++) y[i] += a0[i] * x0 + a1[i] * x1 + a2[i] * x2 + a3[i] * x3;
  }
  for (; c < cols; c++) axpy(len, alpha * x[c * incx], a + c * lda, y);
}

// t = Aᵀ v for the len×cols column-major A.
void gemvT(std::ptrdiff_t len, std::ptrdiff_t cols, const double* a, std::ptrdiff_t lda, const double* v, double* t) {
  std::ptrdiff_t c = 0;
  for (; c + 4 <= cols; c += 4) {
    const auto [a0, a1, a2, a3] = FourColumns(a + c * lda, lda);
    vd s0{}, s1{}, s2{}, s3{};
    std::ptrdiff_t i = 0;
    for (; i + kLanes <= len; i += kLanes) {
      const vd vi = load(v + i);
      s0 += load(a0 + i) * vi;
      s1 += load(a1 + i) * vi;
      s2 += load(a2 + i) * vi;
      s3 += load(a3 + i) * vi;
    }
    double t0 = lanesSum(s0), t1 = lanesSum(s1), t2 = lanesSum(s2), t3 = lanesSum(s3);
    for (; i < len; i++) {
      t0 += a0[i] * v[i];
      t1 += a1[i] * v[i];
      t2 += a2[i] * v[i];
      t3 += a3[i] * v[i];
    }
    t[c] = t0;
    t[c + 1] = t1;
    t[c + 2] = t2;
    t[c + 3] = t3;
  }
  for (; c < cols; c++) t[c] = dot(len, a + c * lda, v);
}

// LAPACK dlatrd (lower): reduces the first nb columns of the n×n trailing matrix a, returning in w
// (n×nb, leading dimension ldw) the matrix W such that the trailing update is A₂₂ − V Wᵀ − W Vᵀ, with
// V the reflectors left in a's columns (unit entries written explicitly).
void reducePanel(std::ptrdiff_t n, std::ptrdiff_t nb, double* a, std::ptrdiff_t lda, double* off, double* tau, double* w, std::ptrdiff_t ldw) {
  for (std::ptrdiff_t i = 0; i < nb; i++) {
    double* col = a + i * lda;
    double* wi = w + i * ldw;
    // Bring column i up to date with the reflectors of this panel: A(i:, i) −= A(i:, :i) W(i, :i)ᵀ + W(i:, :i) A(i, :i)ᵀ.
    gemvN(n - i, i, a + i, lda, w + i, ldw, -1.0, col + i);
    gemvN(n - i, i, w + i, ldw, a + i, lda, -1.0, col + i);
    if (i >= n - 1) continue;
    double alpha = col[i + 1];
    tau[i] = reflector(n - i - 1, alpha, col + i + 2);
    off[i] = alpha;
    col[i + 1] = 1;
    const std::ptrdiff_t len = n - i - 1;
    const double* v = col + i + 1;
    double* wv = wi + i + 1;
    // W(i+1:, i) = τ (A₂₂ − V Wᵀ − W Vᵀ) v, the trailing product taken from the not yet updated A.
    symvLower(len, a + (i + 1) + (i + 1) * lda, lda, v, wv);
    gemvT(len, i, w + i + 1, ldw, v, wi);
    gemvN(len, i, a + i + 1, lda, wi, 1, -1.0, wv);
    gemvT(len, i, a + i + 1, lda, v, wi);
    gemvN(len, i, w + i + 1, ldw, wi, 1, -1.0, wv);
    for (std::ptrdiff_t r = 0; r < len; r++) wv[r] *= tau[i];
    // w ← w − (τ/2)(wᵀv) v makes the two-sided update symmetric (Golub & Van Loan §8.3.1).
    axpy(len, -0.5 * tau[i] * dot(len, wv, v), v, wv);
  }
}

}  // namespace

void tridiagonalize(double* a, std::ptrdiff_t lda, std::ptrdiff_t n, double* diag, double* off, double* rhs, int rhsCount,
                    TridiagonalBuffers& buffers) {
  if (n <= 0) return;
  buffers.tau.assign(n, 0.0);
  double* tau = buffers.tau.data();
  std::ptrdiff_t i = 0;
  if (n > kCrossover) {
    // Panel buffer [V W V] (n rows): [V W] and [W V] are then plain column ranges of one matrix, so the
    // trailing update A₂₂ −= [V W][W V]ᵀ is a single product of inner dimension 2·nb.
    buffers.panel.resize(static_cast<std::size_t>(n) * 3 * kPanel);
    for (; i < n - kCrossover; i += kPanel) {
      const std::ptrdiff_t nt = n - i;
      double* sub = a + i + i * lda;
      double* panel = buffers.panel.data();
      reducePanel(nt, kPanel, sub, lda, off + i, tau + i, panel + kPanel * nt, nt);
      const std::ptrdiff_t rows = nt - kPanel;
      for (std::ptrdiff_t c = 0; c < kPanel; c++) {
        const double* v = sub + kPanel + c * lda;
        std::copy(v, v + rows, panel + kPanel + c * nt);
        std::copy(v, v + rows, panel + kPanel + (2 * kPanel + c) * nt);
      }
      gemm<double, double>(rows, rows, 2 * kPanel, -1.0, View<double>{panel + kPanel, 1, nt}, View<double>{panel + kPanel + kPanel * nt, nt, 1},
                           sub + kPanel + kPanel * lda, lda, Structure::LowerC, buffers.gemm);
      for (std::ptrdiff_t j = i; j < i + kPanel; j++) {
        a[(j + 1) + j * lda] = off[j];
        diag[j] = a[j + j * lda];
      }
    }
  }
  buffers.y.resize(n);
  for (; i < n - 1; i++) {
    double* col = a + i * lda;
    double alpha = col[i + 1];
    const std::ptrdiff_t len = n - i - 1;
    const double t = reflector(len, alpha, col + i + 2);
    off[i] = alpha;
    tau[i] = t;
    diag[i] = col[i];
    if (t == 0) continue;
    col[i + 1] = 1;
    const double* v = col + i + 1;
    double* y = buffers.y.data();
    double* trailing = a + (i + 1) + (i + 1) * lda;
    symvLower(len, trailing, lda, v, y);
    for (std::ptrdiff_t r = 0; r < len; r++) y[r] *= t;
    axpy(len, -0.5 * t * dot(len, y, v), v, y);
    // A₂₂ −= v yᵀ + y vᵀ on the lower triangle (dsyr2).
    for (std::ptrdiff_t c = 0; c < len; c++) {
      double* tc = trailing + c * lda;
      axpy(len - c, -y[c], v + c, tc + c);
      axpy(len - c, -v[c], y + c, tc + c);
    }
    col[i + 1] = alpha;
  }
  diag[n - 1] = a[(n - 1) + (n - 1) * lda];
  off[n - 1] = 0;

  // Qᵀr = H(n−2) ⋯ H(0) r, with v = [1; A(i+2:, i)].
  for (int r = 0; r < rhsCount; r++) {
    double* z = rhs + static_cast<std::ptrdiff_t>(r) * n;
    for (std::ptrdiff_t k = 0; k + 1 < n; k++) {
      if (tau[k] == 0) continue;
      const double* tail = a + (k + 2) + k * lda;
      const std::ptrdiff_t len = n - k - 2;
      const double f = tau[k] * (z[k + 1] + dot(len, tail, z + k + 2));
      z[k + 1] -= f;
      axpy(len, -f, tail, z + k + 2);
    }
  }
}

bool tridiagonalQL(std::ptrdiff_t n, double* d, double* e, double* rhs, int rhsCount) {
  constexpr double kEps = 2.220446049250313e-16;  // 2⁻⁵²
  double f = 0;
  double tst1 = 0;
  for (std::ptrdiff_t l = 0; l < n; l++) {
    tst1 = std::max(tst1, std::abs(d[l]) + std::abs(e[l]));
    std::ptrdiff_t m = l;
    while (m < n - 1 && std::abs(e[m]) > kEps * tst1) m++;
    if (m > l) {
      int iterations = 0;
      do {
        if (++iterations > 60) return false;
        double g = d[l];
        double p = (d[l + 1] - g) / (2 * e[l]);
        double r = std::sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const double dl1 = d[l + 1];
        double h = g - d[l];
        for (std::ptrdiff_t i = l + 2; i < n; i++) d[i] -= h;
        f += h;

        p = d[m];
        double c = 1, c2 = 1, c3 = 1;
        const double el1 = e[l + 1];
        double s = 0, s2 = 0;
        for (std::ptrdiff_t i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = std::sqrt(p * p + e[i] * e[i]);
          e[i + 1] = s * r;
          const double inverse = 1 / r;
          s = e[i] * inverse;
          c = p * inverse;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (int k = 0; k < rhsCount; k++) {
            double* w = rhs + static_cast<std::ptrdiff_t>(k) * n;
            const double wi1 = w[i + 1];
            w[i + 1] = s * w[i] + c * wi1;
            w[i] = c * w[i] - s * wi1;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (std::abs(e[l]) > kEps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  return true;
}

}  // namespace esmselect
