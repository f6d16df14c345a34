#include "latentplay/projector.hpp"

#include "latentplay/errors.hpp"

namespace latentplay {

Projector::Projector(const Eigen::MatrixXd& weights, const Eigen::VectorXd& intercepts, const Eigen::VectorXd& spans)
    : weights_(weights), intercepts_(intercepts), inverse_spans_(spans.cwiseInverse()) {
  if (weights.rows() != intercepts.size() || weights.rows() != spans.size())
    throw UsageError("projector: weights, intercepts and spans disagree on the number of controls");
  if ((spans.array() <= 0).any()) throw UsageError("projector: every control span must be > 0");
  // Truncated SVD of the range-scaled matrix: see python/latentplay/projector.py for why.
  const Eigen::MatrixXd scaled = inverse_spans_.asDiagonal() * weights;
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(scaled, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd& sigma = svd.singularValues();
  const double cutoff = sigma.size() ? kRcond * sigma.maxCoeff() : 0.0;
  Eigen::VectorXd inverse = Eigen::VectorXd::Zero(sigma.size());
  for (Eigen::Index i = 0; i < sigma.size(); ++i)
    if (sigma[i] > cutoff) inverse[i] = 1.0 / sigma[i];
  scaled_pseudo_inverse_ = svd.matrixV() * inverse.asDiagonal() * svd.matrixU().transpose();
}

Eigen::VectorXd Projector::values(const Eigen::VectorXd& latent) const { return weights_ * latent + intercepts_; }

Eigen::VectorXd Projector::project(const Eigen::VectorXd& latent, const Eigen::VectorXd& targets) const {
  const Eigen::VectorXd residual = (targets - values(latent)).cwiseProduct(inverse_spans_);
  return latent + scaled_pseudo_inverse_ * residual;
}

}  // namespace latentplay
