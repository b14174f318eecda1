// Portable short vectors of doubles (GCC/Clang vector extensions). The width follows the target the
// addon is compiled for (-march=native): 8 lanes with AVX-512, 4 with AVX, 2 otherwise.
#pragma once

#include <cstddef>
#include <cstring>
#include <new>
#include <vector>

namespace esmselect {

#if defined(__AVX512F__)
constexpr int kLanes = 8;
#elif defined(__AVX__)
constexpr int kLanes = 4;
#else
constexpr int kLanes = 2;
#endif

// Vectors whose data starts on a cache line, so that full-width loads of aligned rows never straddle two.
template <typename T>
struct CacheAligned {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  CacheAligned() = default;
  template <typename U>
  CacheAligned(const CacheAligned<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, kAlignment); }
  template <typename U>
  bool operator==(const CacheAligned<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const CacheAligned<U>&) const {
    return false;
  }
};
using Buffer = std::vector<double, CacheAligned<double>>;

typedef double vd __attribute__((vector_size(kLanes * sizeof(double))));

// memcpy compiles to one unaligned vector move and keeps the code free of aliasing questions.
inline vd load(const double* p) {
  vd v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store(double* p, vd v) { std::memcpy(p, &v, sizeof v); }

inline vd splat(double x) { return vd{} + x; }

inline double lanesSum(vd v) {
  double s = 0;
  for (int i = 0; i < kLanes; i++) s += v[i];
  return s;
}

// Σ x[i] y[i], four independent vector accumulators to hide FMA latency.
inline double dot(std::ptrdiff_t n, const double* x, const double* y) {
  vd a0{}, a1{}, a2{}, a3{};
  std::ptrdiff_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    a0 += load(x + i) * load(y + i);
    a1 += load(x + i + kLanes) * load(y + i + kLanes);
    a2 += load(x + i + 2 * kLanes) * load(y + i + 2 * kLanes);
    a3 += load(x + i + 3 * kLanes) * load(y + i + 3 * kLanes);
  }
  for (; i + kLanes <= n; i += kLanes) a0 += load(x + i) * load(y + i);
  double s = lanesSum((a0 + a1) + (a2 + a3));
  for (; i < n; i++) s += x[i] * y[i];
  return s;
}

// Σ x[i] y[i] for float x, each x[i] widened exactly.
inline double dot(std::ptrdiff_t n, const float* x, const double* y) {
  typedef float vf __attribute__((vector_size(kLanes * sizeof(float))));
  vd a0{}, a1{};
  std::ptrdiff_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    vf x0, x1;
    std::memcpy(&x0, x + i, sizeof x0);
    std::memcpy(&x1, x + i + kLanes, sizeof x1);
    a0 += __builtin_convertvector(x0, vd) * load(y + i);
    a1 += __builtin_convertvector(x1, vd) * load(y + i + kLanes);
  }
  double s = lanesSum(a0 + a1);
  for (; i < n; i++) s += x[i] * y[i];
  return s;
}

// y += a x
inline void axpy(std::ptrdiff_t n, double a, const double* x, double* y) {
  for (std::ptrdiff_t i = 0; i < n; i++) y[i] += a * x[i];
}

}  // namespace esmselect
