// Bundle reading without any model: a minimal sidecar over placeholder files whose hashes match.
// (The full malformed-bundle corpus runs against the engine from Python: tests/engine.)
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "latentplay/bundle.hpp"
#include "latentplay/errors.hpp"

namespace fs = std::filesystem;
using latentplay::BundleError;
using nlohmann::json;

namespace {

fs::path write_bundle(const std::string& name, const std::function<void(json&)>& change = [](json&) {}) {
  const fs::path folder = fs::temp_directory_path() / ("latentplay-cpp-" + name + ".latentplay");
  fs::remove_all(folder);
  fs::create_directories(folder);
  std::ofstream(folder / "decoder.ts") << "decoder bytes";
  std::ofstream(folder / "encoder.ts") << "encoder bytes";
  const std::string decoder_hash = latentplay::sha256_file((folder / "decoder.ts").string());
  const int dim = 6;
  const std::vector<double> vector(dim, 0.5);
  json controls = json::array();
  for (int k = 0; k < latentplay::kNumControls; ++k) {
    controls.push_back({{"name", latentplay::kControlNames[k]}, {"label", latentplay::kControlLabels[k]},
                        {"unit", latentplay::kControlUnits[k]}, {"kind", latentplay::kControlKinds[k]},
                        {"range", {0.0, 1.0}}, {"weights", vector},
                        {"intercept", 0.0}, {"r2", k < 2 ? json(nullptr) : json({{"fit", 0.9}, {"cv", 0.8}})}});
  }
  json sidecar = {
      {"format", "latentplay-bundle"}, {"schema_version", 1}, {"model_id", decoder_hash},
      {"files", {{"decoder", {{"path", "decoder.ts"}, {"sha256", decoder_hash}}},
                 {"encoder", {{"path", "encoder.ts"}, {"sha256", latentplay::sha256_file((folder / "encoder.ts").string())}}}}},
      {"sample_rate", 22050}, {"length", 6615}, {"latent_dim", dim}, {"controls", controls},
      {"pca", {{"mean", vector}, {"components", {vector, vector}}, {"explained_variance_ratio", {0.5, 0.2}}}},
      {"packs", {"Pack"}},
      {"samples", {{{"path", "Pack/kick.wav"}, {"pack", "Pack"}, {"subpack", ""}, {"latent", vector},
                    {"features", {{"frequency", 50.0}, {"attack", 2.0}, {"release", 100.0}}}}}},
      {"training", {{"config", json::object()}, {"metrics", json::object()}}},
      {"created_by", "test"}};
  change(sidecar);
  std::ofstream(folder / "latentplay.json") << sidecar.dump();
  return folder;
}

std::string error_of(const fs::path& folder) {
  try {
    latentplay::load_bundle(folder.string());
  } catch (const BundleError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("sha256 of known bytes", "[bundle]") {
  const fs::path file = fs::temp_directory_path() / "latentplay-abc.txt";
  std::ofstream(file) << "abc";
  REQUIRE(latentplay::sha256_file(file.string()) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("a valid sidecar loads", "[bundle]") {
  const auto bundle = latentplay::load_bundle(write_bundle("valid").string());
  REQUIRE(bundle.latent_dim == 6);
  REQUIRE(bundle.stored_schema_version == 1);  // upgraded: prep and producer from the contract's defaults
  REQUIRE(bundle.prep.fade_out == 0.1);
  REQUIRE(bundle.controls[2].unit == "Hz");
  REQUIRE(bundle.samples.size() == 1);
  REQUIRE(bundle.find_sample("kick") == 0);
  REQUIRE(bundle.find_sample("Pack/kick.wav") == 0);
  REQUIRE(bundle.find_sample("snare") == -1);
}

TEST_CASE("each broken rule names the file and the field", "[bundle]") {
  REQUIRE_THAT(error_of(write_bundle("short", [](json& s) { s["controls"][2]["weights"].erase(0); })),
               Catch::Contains("latentplay.json: controls[2].weights: has 5 values, latent_dim is 6"));
  REQUIRE_THAT(error_of(write_bundle("pack", [](json& s) { s["samples"][0]["pack"] = "Other"; })),
               Catch::Contains("samples[0].pack"));
  REQUIRE_THAT(error_of(write_bundle("version", [](json& s) { s["schema_version"] = 99; })),
               Catch::Contains("schema_version: this LatentPlay reads schema versions 1 to 2, the bundle says 99"));
  REQUIRE_THAT(error_of(write_bundle("range", [](json& s) { s["controls"][4]["range"] = {3.0, 3.0}; })),
               Catch::Contains("controls[4].range"));
  REQUIRE_THAT(error_of(write_bundle("order", [](json& s) { std::swap(s["controls"][0], s["controls"][1]); })),
               Catch::Contains("controls[0].label: expected \"PC1\", got \"PC2\""));
  REQUIRE_THAT(error_of(write_bundle("missing", [](json& s) { s.erase("latent_dim"); })),
               Catch::Contains("latent_dim: missing"));
  REQUIRE_THAT(error_of(fs::temp_directory_path() / "no-such.latentplay"), Catch::Contains("not a bundle folder"));
}

TEST_CASE("a changed file is caught by its hash", "[bundle]") {
  const fs::path folder = write_bundle("tampered");
  std::ofstream(folder / "decoder.ts") << "other bytes";
  REQUIRE_THAT(error_of(folder), Catch::Contains("decoder.ts: sha256 does not match"));
}
