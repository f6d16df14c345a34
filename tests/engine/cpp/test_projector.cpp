// The Eigen projector's properties (the Python tests also compare it with the numpy reference).
#include <catch2/catch.hpp>

#include "latentplay/projector.hpp"

using latentplay::Projector;

namespace {

struct Problem {
  Eigen::MatrixXd weights;
  Eigen::VectorXd intercepts, spans, latent, targets;
};

Problem random_problem(int dim, unsigned seed) {
  std::srand(seed);
  Problem p;
  p.weights = Eigen::MatrixXd::Random(5, dim);
  p.intercepts = Eigen::VectorXd::Random(5) * 50;
  p.spans = (Eigen::VectorXd::Random(5).array() + 1.5).matrix();
  p.latent = Eigen::VectorXd::Random(dim) * 3;
  p.targets = p.weights * p.latent + p.intercepts + Eigen::VectorXd::Random(5);
  return p;
}

}  // namespace

TEST_CASE("projected point meets every control and moves minimally", "[projector]") {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    const Problem p = random_problem(8 + static_cast<int>(seed), seed);
    const Projector projector(p.weights, p.intercepts, p.spans);
    const Eigen::VectorXd moved = projector.project(p.latent, p.targets);
    REQUIRE((projector.values(moved) - p.targets).cwiseAbs().maxCoeff() < 1e-9);
    // The move lies in A's row space: orthogonal to every other solution's difference.
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(p.weights, Eigen::ComputeFullV);
    const Eigen::MatrixXd null_space = svd.matrixV().rightCols(p.weights.cols() - 5);
    REQUIRE((null_space.transpose() * (moved - p.latent)).norm() < 1e-9);
  }
}

TEST_CASE("own control values leave the point unchanged", "[projector]") {
  const Problem p = random_problem(33, 7);
  const Projector projector(p.weights, p.intercepts, p.spans);
  const Eigen::VectorXd moved = projector.project(p.latent, projector.values(p.latent));
  REQUIRE((moved - p.latent).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("identical controls asked for different values meet half-way", "[projector]") {
  Problem p = random_problem(12, 3);
  p.weights.row(4) = p.weights.row(3);
  p.spans.setConstant(10.0);
  const Projector projector(p.weights, p.intercepts, p.spans);
  Eigen::VectorXd asked(5);
  asked << 1, -2, 3, 4, 6;
  const Eigen::VectorXd own = projector.values(p.latent);
  const Eigen::VectorXd change = projector.values(projector.project(p.latent, own + asked)) - own;
  REQUIRE((change.head(3) - asked.head(3)).cwiseAbs().maxCoeff() < 1e-9);
  REQUIRE(change[3] == Approx(5.0).margin(1e-9));
  REQUIRE(change[4] == Approx(5.0).margin(1e-9));
}

TEST_CASE("nearly parallel controls do not explode", "[projector]") {
  Problem p = random_problem(16, 11);
  p.weights.row(4) = p.weights.row(3) + 1e-13 * Eigen::RowVectorXd::Random(16);
  p.spans.setOnes();
  const Projector projector(p.weights, p.intercepts, p.spans);
  Eigen::VectorXd targets = projector.values(p.latent);
  targets[4] += 1.0;
  const Eigen::VectorXd moved = projector.project(p.latent, targets);
  REQUIRE(moved.allFinite());
  REQUIRE((moved - p.latent).norm() < 100);
}

TEST_CASE("inconsistent inputs are refused", "[projector]") {
  const Problem p = random_problem(8, 5);
  REQUIRE_THROWS_AS(Projector(p.weights, p.intercepts, -p.spans), std::invalid_argument);
  REQUIRE_THROWS_AS(Projector(p.weights, p.intercepts.head(4), p.spans), std::invalid_argument);
}
