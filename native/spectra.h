// Per-ESM spectra for ESM-LogME: what src/logme/evidence.ts `evidenceFromSpectrum` needs, computed for a
// batch of ESMs on several threads.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace esmselect {

// The ESM y = W x + b: W row-major d×d and b, float32 as stored (hfselect / PyTorch nn.Linear layout).
struct EsmWeights {
  const float* weight;
  const float* bias;
};

// Eigenvalues of the Gram matrix and, per label column, the projections on its eigenvectors.
struct EsmSpectrum {
  std::vector<double> values;
  std::vector<double> projections;  // columnCount vectors of values.size() each
};

// N > D: the spectrum of FᵀF = MᵀM with M = R P W̃ᵀ, and the projections of Fᵀy = W̃ (X̃ᵀy)
// (src/rank/esm-logme.ts `esmLogme`). r, perm and xty as produced by factorTarget.
struct FeatureTarget {
  std::ptrdiff_t d;
  std::ptrdiff_t rank;
  const double* r;
  const int* perm;
  const double* xty;
  int columnCount;
};

// N ≤ D: the spectrum of FFᵀ with F = X Wᵀ + 1 bᵀ, and the projections of the label columns
// (src/logme/logme.ts, hfselect's thin SVD).
struct SampleTarget {
  std::ptrdiff_t n;
  std::ptrdiff_t d;
  const float* x;
  const double* columns;
  int columnCount;
};

// Spectra of given symmetric n×n float32 matrices (products computed elsewhere, e.g. by TensorFlow.js),
// each with its own columnCount right-hand sides.
struct GivenMatrix {
  const float* matrix;
  const double* rhs;
};

// Scores esms[i] into out[i], spreading the ESMs over `threads` threads. Returns an empty string, or
// why it failed.
std::string featureSpectra(const FeatureTarget& target, const std::vector<EsmWeights>& esms, int threads, std::vector<EsmSpectrum>& out);
std::string sampleSpectra(const SampleTarget& target, const std::vector<EsmWeights>& esms, int threads, std::vector<EsmSpectrum>& out);
std::string givenSpectra(std::ptrdiff_t n, int columnCount, const std::vector<GivenMatrix>& matrices, int threads, std::vector<EsmSpectrum>& out);

}  // namespace esmselect
