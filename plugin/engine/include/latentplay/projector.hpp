// The latent-control projector, the same math as python/latentplay/projector.py (the reference):
// z' = z + Aᵀ(AAᵀ)⁻¹(b' − A z) computed as a truncated SVD of the range-scaled A.
// The pseudo-inverse depends only on the bundle, so it is computed once at load.
#pragma once

#include <Eigen/Dense>

namespace latentplay {

// Singular values of the range-scaled control matrix below kRcond · σ_max count as zero.
constexpr double kRcond = 1e-6;

class Projector {
 public:
  Projector() = default;
  // weights A (K × D), intercepts c (K), spans (K, > 0).
  Projector(const Eigen::MatrixXd& weights, const Eigen::VectorXd& intercepts, const Eigen::VectorXd& spans);

  // Control values A z + c.
  Eigen::VectorXd values(const Eigen::VectorXd& latent) const;
  // The point closest to `latent` whose controls equal `targets`.
  Eigen::VectorXd project(const Eigen::VectorXd& latent, const Eigen::VectorXd& targets) const;

 private:
  Eigen::MatrixXd weights_;
  Eigen::VectorXd intercepts_;
  Eigen::VectorXd inverse_spans_;
  Eigen::MatrixXd scaled_pseudo_inverse_;  // D × K: V Σ⁺ Uᵀ of diag(1/spans) A
};

}  // namespace latentplay
