#include "spectra.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "gemm.h"
#include "simd.h"
#include "tridiagonal.h"

namespace esmselect {
namespace {

// Working memory of one scoring thread (a few D×D matrices), kept between batches so that streaming
// a pool does not page-fault tens of megabytes per batch.
struct Workspace {
  Buffer product, gram, diag, off, rhs;
  TridiagonalBuffers tridiagonal;
};

std::mutex poolMutex;
std::vector<std::unique_ptr<Workspace>> idle;

std::unique_ptr<Workspace> takeWorkspace() {
  std::lock_guard<std::mutex> lock(poolMutex);
  if (idle.empty()) return std::make_unique<Workspace>();
  auto w = std::move(idle.back());
  idle.pop_back();
  return w;
}

void returnWorkspace(std::unique_ptr<Workspace> w) {
  std::lock_guard<std::mutex> lock(poolMutex);
  idle.push_back(std::move(w));
}

const char* const kNoConvergence = "tridiagonal QL did not converge";

// Spectrum of the symmetric n×n Gram matrix in ws.gram (lower triangle) with the rhs already in ws.rhs.
bool finishSpectrum(std::ptrdiff_t n, int columnCount, Workspace& ws, EsmSpectrum& out) {
  ws.diag.resize(n);
  ws.off.resize(n);
  tridiagonalize(ws.gram.data(), n, n, ws.diag.data(), ws.off.data(), ws.rhs.data(), columnCount, ws.tridiagonal);
  if (!tridiagonalQL(n, ws.diag.data(), ws.off.data(), ws.rhs.data(), columnCount)) return false;
  out.values.assign(ws.diag.begin(), ws.diag.end());
  out.projections.assign(ws.rhs.begin(), ws.rhs.begin() + static_cast<std::ptrdiff_t>(columnCount) * n);
  return true;
}

bool featureSpectrum(const FeatureTarget& t, const EsmWeights& esm, Workspace& ws, EsmSpectrum& out) {
  const std::ptrdiff_t d = t.d, m = d + 1, rank = t.rank;
  GemmBuffers& buffers = ws.tridiagonal.gemm;
  // B = P W̃ᵀ (m×d, column-major): B(a, j) = W̃(j, perm[a]), the bias being column d of W̃.
  ws.gram.resize(static_cast<std::size_t>(std::max(m, d)) * d);
  double* b = ws.gram.data();
  for (std::ptrdiff_t j = 0; j < d; j++) {
    const float* wj = esm.weight + j * d;
    double* bj = b + j * m;
    for (std::ptrdiff_t a = 0; a < m; a++) {
      const int col = t.perm[a];
      bj[a] = col == d ? esm.bias[j] : wj[col];
    }
  }
  // M = R B (rank×d): R is upper-trapezoidal, so each k-panel only reaches the rows above it.
  ws.product.assign(static_cast<std::size_t>(rank) * d, 0.0);
  double* mm = ws.product.data();
  gemm<double, double>(rank, d, m, 1.0, View<double>{t.r, m, 1}, View<double>{b, 1, m}, mm, rank, Structure::UpperTrapezoidalA, buffers);
  // FᵀF = MᵀM (lower triangle), overwriting B.
  std::fill(b, b + d * d, 0.0);
  gemm<double, double>(d, d, rank, 1.0, View<double>{mm, rank, 1}, View<double>{mm, 1, rank}, b, d, Structure::LowerC, buffers);
  // Fᵀy = W̃ (X̃ᵀy).
  ws.rhs.resize(static_cast<std::size_t>(t.columnCount) * d);
  for (int c = 0; c < t.columnCount; c++) {
    const double* v = t.xty + c * m;
    double* z = ws.rhs.data() + c * d;
    for (std::ptrdiff_t j = 0; j < d; j++) {
      z[j] = esm.bias[j] * v[d] + dot(d, esm.weight + j * d, v);
    }
  }
  return finishSpectrum(d, t.columnCount, ws, out);
}

bool sampleSpectrum(const SampleTarget& t, const EsmWeights& esm, Workspace& ws, EsmSpectrum& out) {
  const std::ptrdiff_t n = t.n, d = t.d;
  GemmBuffers& buffers = ws.tridiagonal.gemm;
  // F = X Wᵀ + 1 bᵀ (n×d, column-major).
  ws.product.resize(static_cast<std::size_t>(n) * d);
  double* f = ws.product.data();
  for (std::ptrdiff_t j = 0; j < d; j++) std::fill(f + j * n, f + (j + 1) * n, static_cast<double>(esm.bias[j]));
  gemm<float, float>(n, d, d, 1.0, View<float>{t.x, d, 1}, View<float>{esm.weight, 1, d}, f, n, Structure::General, buffers);
  // FFᵀ (lower triangle).
  ws.gram.assign(static_cast<std::size_t>(n) * n, 0.0);
  gemm<double, double>(n, n, d, 1.0, View<double>{f, 1, n}, View<double>{f, n, 1}, ws.gram.data(), n, Structure::LowerC, buffers);
  ws.rhs.assign(t.columns, t.columns + static_cast<std::ptrdiff_t>(t.columnCount) * n);
  return finishSpectrum(n, t.columnCount, ws, out);
}

bool givenSpectrum(std::ptrdiff_t n, int columnCount, const GivenMatrix& given, Workspace& ws, EsmSpectrum& out) {
  ws.gram.resize(static_cast<std::size_t>(n) * n);
  std::copy(given.matrix, given.matrix + n * n, ws.gram.begin());
  ws.rhs.assign(given.rhs, given.rhs + static_cast<std::ptrdiff_t>(columnCount) * n);
  return finishSpectrum(n, columnCount, ws, out);
}

std::string forEachEsm(std::size_t count, int threads, const std::function<bool(std::size_t, Workspace&)>& work) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  auto run = [&] {
    auto ws = takeWorkspace();
    for (std::size_t i; !failed && (i = next++) < count;)
      if (!work(i, *ws)) failed = true;
    returnWorkspace(std::move(ws));
  };
  const int helpers = std::max(1, std::min<int>(threads, static_cast<int>(count))) - 1;
  std::vector<std::thread> pool;
  pool.reserve(helpers);
  for (int h = 0; h < helpers; h++) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
  return failed ? kNoConvergence : "";
}

}  // namespace

std::string featureSpectra(const FeatureTarget& target, const std::vector<EsmWeights>& esms, int threads, std::vector<EsmSpectrum>& out) {
  out.resize(esms.size());
  return forEachEsm(esms.size(), threads, [&](std::size_t i, Workspace& ws) { return featureSpectrum(target, esms[i], ws, out[i]); });
}

std::string sampleSpectra(const SampleTarget& target, const std::vector<EsmWeights>& esms, int threads, std::vector<EsmSpectrum>& out) {
  out.resize(esms.size());
  return forEachEsm(esms.size(), threads, [&](std::size_t i, Workspace& ws) { return sampleSpectrum(target, esms[i], ws, out[i]); });
}

std::string givenSpectra(std::ptrdiff_t n, int columnCount, const std::vector<GivenMatrix>& matrices, int threads, std::vector<EsmSpectrum>& out) {
  out.resize(matrices.size());
  return forEachEsm(matrices.size(), threads, [&](std::size_t i, Workspace& ws) { return givenSpectrum(n, columnCount, matrices[i], ws, out[i]); });
}

}  // namespace esmselect
