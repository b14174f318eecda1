// N-API bindings of the native ESM-LogME kernels (loaded by src/native/addon.ts). Every call runs off
// the JavaScript thread (Napi::AsyncWorker) and resolves a promise; the typed arrays it reads are held
// by references until then. The TypeScript side validates shapes; the checks here only keep a wrong
// call from reading out of bounds.
#include <napi.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "spectra.h"
#include "target.h"

namespace {

using esmselect::EsmSpectrum;
using esmselect::EsmWeights;

class ArgumentError : public std::exception {
 public:
  explicit ArgumentError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// Typed arrays read by a worker thread, kept alive by references until the worker is done.
class Inputs {
 public:
  template <typename T, napi_typedarray_type Kind>
  const T* array(const Napi::Value& value, std::size_t length, const std::string& name) {
    if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != Kind) throw ArgumentError(name + " has the wrong array type");
    auto typed = value.As<Napi::TypedArrayOf<T>>();
    if (typed.ElementLength() != length) {
      throw ArgumentError(name + " has " + std::to_string(typed.ElementLength()) + " elements, expected " + std::to_string(length));
    }
    references_.push_back(Napi::Persistent(value.As<Napi::Object>()));
    return typed.Data();
  }
  const float* floats(const Napi::Value& v, std::size_t n, const std::string& name) { return array<float, napi_float32_array>(v, n, name); }
  const double* doubles(const Napi::Value& v, std::size_t n, const std::string& name) { return array<double, napi_float64_array>(v, n, name); }
  const int32_t* ints(const Napi::Value& v, std::size_t n, const std::string& name) { return array<int32_t, napi_int32_array>(v, n, name); }

  // Several same-length Float64Arrays, copied into one contiguous block.
  std::vector<double> columns(const Napi::Value& value, std::size_t length, const std::string& name) {
    if (!value.IsArray()) throw ArgumentError(name + " must be an array of Float64Array");
    auto list = value.As<Napi::Array>();
    std::vector<double> out;
    out.reserve(list.Length() * length);
    for (uint32_t i = 0; i < list.Length(); i++) {
      const double* column = doubles(list.Get(i), length, name + "[" + std::to_string(i) + "]");
      out.insert(out.end(), column, column + length);
    }
    return out;
  }

  std::vector<EsmWeights> esms(const Napi::Value& weights, const Napi::Value& biases, std::size_t d) {
    if (!weights.IsArray() || !biases.IsArray()) throw ArgumentError("weights and biases must be arrays of Float32Array");
    auto w = weights.As<Napi::Array>();
    auto b = biases.As<Napi::Array>();
    if (w.Length() != b.Length()) throw ArgumentError("weights and biases differ in length");
    std::vector<EsmWeights> out;
    for (uint32_t i = 0; i < w.Length(); i++) {
      out.push_back({floats(w.Get(i), d * d, "weights[" + std::to_string(i) + "]"), floats(b.Get(i), d, "biases[" + std::to_string(i) + "]")});
    }
    return out;
  }

 private:
  std::vector<Napi::ObjectReference> references_;
};

std::size_t dimension(const Napi::Value& value, const std::string& name) {
  if (!value.IsNumber()) throw ArgumentError(name + " must be a number");
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!(x >= 1 && x <= 1e9) || x != static_cast<double>(static_cast<std::size_t>(x))) throw ArgumentError(name + " must be a positive integer");
  return static_cast<std::size_t>(x);
}

Napi::Float64Array toFloat64Array(Napi::Env env, const double* data, std::size_t length) {
  auto out = Napi::Float64Array::New(env, length);
  std::copy(data, data + length, out.Data());
  return out;
}

// Resolves a promise with whatever `Finish` builds from the results of `Run` (run on a worker thread).
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  virtual Napi::Value Finish(Napi::Env env) = 0;
  void OnOK() override { deferred_.Resolve(Finish(Env())); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }
  Inputs inputs_;

 private:
  Napi::Promise::Deferred deferred_;
};

class FactorTargetWorker : public PromiseWorker {
 public:
  FactorTargetWorker(const Napi::CallbackInfo& info) : PromiseWorker(info.Env()) {
    n_ = dimension(info[1], "n");
    d_ = dimension(info[2], "d");
    x_ = inputs_.floats(info[0], n_ * d_, "x");
    columns_ = inputs_.columns(info[3], n_, "columns");
    columnCount_ = static_cast<int>(columns_.size() / n_);
  }

 protected:
  void Execute() override {
    esmselect::GemmBuffers buffers;
    factor_ = esmselect::factorTarget(x_, n_, d_, columns_.data(), columnCount_, buffers);
  }
  Napi::Value Finish(Napi::Env env) override {
    const std::size_t m = d_ + 1;
    auto result = Napi::Object::New(env);
    result.Set("r", toFloat64Array(env, factor_.r.data(), factor_.r.size()));
    result.Set("rank", Napi::Number::New(env, static_cast<double>(factor_.rank)));
    auto perm = Napi::Int32Array::New(env, m);
    std::copy(factor_.perm.begin(), factor_.perm.end(), perm.Data());
    result.Set("perm", perm);
    auto xty = Napi::Array::New(env, columnCount_);
    for (int c = 0; c < columnCount_; c++) xty.Set(c, toFloat64Array(env, factor_.xty.data() + c * m, m));
    result.Set("xty", xty);
    return result;
  }

 private:
  std::size_t n_, d_;
  const float* x_;
  std::vector<double> columns_;
  int columnCount_;
  esmselect::GramFactor factor_;
};

class SpectraWorker : public PromiseWorker {
 public:
  using PromiseWorker::PromiseWorker;

 protected:
  Napi::Value Finish(Napi::Env env) override {
    auto list = Napi::Array::New(env, spectra_.size());
    for (uint32_t i = 0; i < spectra_.size(); i++) {
      const EsmSpectrum& s = spectra_[i];
      const std::size_t n = s.values.size();
      auto projections = Napi::Array::New(env, columnCount_);
      for (int c = 0; c < columnCount_; c++) projections.Set(c, toFloat64Array(env, s.projections.data() + c * n, n));
      auto spectrum = Napi::Object::New(env);
      spectrum.Set("values", toFloat64Array(env, s.values.data(), n));
      spectrum.Set("projections", projections);
      list.Set(i, spectrum);
    }
    return list;
  }
  void Report(const std::string& problem) {
    if (!problem.empty()) SetError(problem);
  }
  std::vector<EsmWeights> esms_;
  std::vector<EsmSpectrum> spectra_;
  int columnCount_ = 0;
  int threads_ = 1;
};

// featureSpectra(d, r, rank, perm, xty[], weights[], biases[], threads)
class FeatureSpectraWorker : public SpectraWorker {
 public:
  FeatureSpectraWorker(const Napi::CallbackInfo& info) : SpectraWorker(info.Env()) {
    const std::size_t d = dimension(info[0], "d"), m = d + 1;
    const std::size_t rank = dimension(info[2], "rank");
    if (rank > m) throw ArgumentError("rank exceeds d + 1");
    xty_ = inputs_.columns(info[4], m, "xty");
    columnCount_ = static_cast<int>(xty_.size() / m);
    target_ = {static_cast<std::ptrdiff_t>(d),
               static_cast<std::ptrdiff_t>(rank),
               inputs_.doubles(info[1], rank * m, "r"),
               nullptr,
               xty_.data(),
               columnCount_};
    const int32_t* perm = inputs_.ints(info[3], m, "perm");
    perm_.assign(perm, perm + m);
    for (int p : perm_)
      if (p < 0 || static_cast<std::size_t>(p) > d) throw ArgumentError("perm holds an index outside 0..d");
    target_.perm = perm_.data();
    esms_ = inputs_.esms(info[5], info[6], d);
    threads_ = static_cast<int>(dimension(info[7], "threads"));
  }

 protected:
  void Execute() override { Report(esmselect::featureSpectra(target_, esms_, threads_, spectra_)); }

 private:
  std::vector<double> xty_;
  std::vector<int> perm_;
  esmselect::FeatureTarget target_;
};

// sampleSpectra(x, n, d, columns[], weights[], biases[], threads)
class SampleSpectraWorker : public SpectraWorker {
 public:
  SampleSpectraWorker(const Napi::CallbackInfo& info) : SpectraWorker(info.Env()) {
    const std::size_t n = dimension(info[1], "n"), d = dimension(info[2], "d");
    columns_ = inputs_.columns(info[3], n, "columns");
    columnCount_ = static_cast<int>(columns_.size() / n);
    target_ = {static_cast<std::ptrdiff_t>(n), static_cast<std::ptrdiff_t>(d), inputs_.floats(info[0], n * d, "x"), columns_.data(), columnCount_};
    esms_ = inputs_.esms(info[4], info[5], d);
    threads_ = static_cast<int>(dimension(info[6], "threads"));
  }

 protected:
  void Execute() override { Report(esmselect::sampleSpectra(target_, esms_, threads_, spectra_)); }

 private:
  std::vector<double> columns_;
  esmselect::SampleTarget target_;
};

// symmetricSpectra(n, matrices[], rhs[][], threads): rhs[i] holds the right-hand sides of matrices[i].
class GivenSpectraWorker : public SpectraWorker {
 public:
  GivenSpectraWorker(const Napi::CallbackInfo& info) : SpectraWorker(info.Env()) {
    n_ = dimension(info[0], "n");
    if (!info[1].IsArray() || !info[2].IsArray()) throw ArgumentError("matrices and rhs must be arrays");
    auto matrices = info[1].As<Napi::Array>();
    auto rhs = info[2].As<Napi::Array>();
    if (matrices.Length() != rhs.Length()) throw ArgumentError("matrices and rhs differ in length");
    rhs_.resize(matrices.Length());
    for (uint32_t i = 0; i < matrices.Length(); i++) {
      const std::string name = "rhs[" + std::to_string(i) + "]";
      rhs_[i] = inputs_.columns(rhs.Get(i), n_, name);
      const int count = static_cast<int>(rhs_[i].size() / n_);
      if (i > 0 && count != columnCount_) throw ArgumentError(name + " has another number of vectors than rhs[0]");
      columnCount_ = count;
      given_.push_back({inputs_.floats(matrices.Get(i), n_ * n_, "matrices[" + std::to_string(i) + "]"), rhs_[i].data()});
    }
    threads_ = static_cast<int>(dimension(info[3], "threads"));
  }

 protected:
  void Execute() override { Report(esmselect::givenSpectra(static_cast<std::ptrdiff_t>(n_), columnCount_, given_, threads_, spectra_)); }

 private:
  std::size_t n_;
  std::vector<std::vector<double>> rhs_;
  std::vector<esmselect::GivenMatrix> given_;
};

template <typename Worker>
Napi::Value start(const Napi::CallbackInfo& info) {
  Worker* worker;
  try {
    worker = new Worker(info);
  } catch (const ArgumentError& error) {
    throw Napi::TypeError::New(info.Env(), error.what());
  }
  auto promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("factorTarget", Napi::Function::New(env, start<FactorTargetWorker>));
  exports.Set("featureSpectra", Napi::Function::New(env, start<FeatureSpectraWorker>));
  exports.Set("sampleSpectra", Napi::Function::New(env, start<SampleSpectraWorker>));
  exports.Set("symmetricSpectra", Napi::Function::New(env, start<GivenSpectraWorker>));
#if defined(__AVX512F__)
  exports.Set("simd", Napi::String::New(env, "avx512"));
#elif defined(__AVX2__)
  exports.Set("simd", Napi::String::New(env, "avx2"));
#else
  exports.Set("simd", Napi::String::New(env, "baseline"));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(esmselect_native, Init)
