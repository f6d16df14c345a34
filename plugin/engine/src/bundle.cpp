// Reading and checking a model bundle (docs/bundle.md). The rules are the contract's
// (python/latentplay/bundle_schema.json, embedded at build time), applied by schema.cpp exactly as
// the Python reader applies them; tests/export/test_contract.py runs a generated corpus on both.
#include "latentplay/bundle.hpp"

#include <openssl/evp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "latentplay/errors.hpp"
#include "schema.hpp"

namespace latentplay {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSidecarName = "latentplay.json";

json parse_sidecar(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw BundleError(path + ": missing");
  std::stringstream text;
  text << file.rdbuf();
  try {
    json parsed = json::parse(text.str());
    if (!parsed.is_object()) throw BundleError(path + ": expected a JSON object at the top level");
    return parsed;
  } catch (const json::exception& error) {  // a syntax error, or a number beyond a double's range
    throw BundleError(path + ": not valid JSON (" + std::string(error.what()) + ")");
  }
}

Eigen::VectorXd vector_of(const json& values) {
  Eigen::VectorXd result(values.size());
  for (size_t i = 0; i < values.size(); ++i) result[static_cast<Eigen::Index>(i)] = values[i].get<double>();
  return result;
}

// The sidecar has passed the contract: every field below is there with its type and bounds.
Control control_of(const json& entry) {
  Control control;
  control.name = entry["name"].get<std::string>();
  control.label = entry["label"].get<std::string>();
  control.unit = entry["unit"].get<std::string>();
  control.kind = entry["kind"].get<std::string>();
  control.minimum = entry["range"][0].get<double>();
  control.maximum = entry["range"][1].get<double>();
  control.weights = vector_of(entry["weights"]);
  control.intercept = entry["intercept"].get<double>();
  return control;
}

Sample sample_of(const json& entry) {
  Sample sample;
  sample.path = entry["path"].get<std::string>();
  sample.pack = entry["pack"].get<std::string>();
  sample.subpack = entry["subpack"].get<std::string>();
  sample.latent = vector_of(entry["latent"]);
  sample.frequency = entry["features"]["frequency"].get<double>();
  sample.attack = entry["features"]["attack"].get<double>();
  sample.release = entry["features"]["release"].get<double>();
  return sample;
}

void verify_file(const std::string& folder, const std::string& name, const std::string& role,
                 const std::string& expected_sha256) {
  const std::string path = (fs::path(folder) / name).string();
  if (!fs::is_regular_file(path))
    throw BundleError(path + ": missing (files." + role + ".path in " + kSidecarName + ")");
  if (sha256_file(path) != expected_sha256)
    throw BundleError(path + ": sha256 does not match files." + role + ".sha256 in " + kSidecarName +
                      " (the file was changed or replaced)");
}

// As the Python reader: exactly samples × length float32 values.
void check_originals_size(const Bundle& bundle) {
  const std::uintmax_t expected = bundle.samples.size() * static_cast<std::uintmax_t>(bundle.length) * sizeof(float);
  const std::uintmax_t actual = fs::file_size(bundle.originals_path);
  if (actual != expected)
    throw BundleError(bundle.originals_path + ": holds " + std::to_string(actual) + " bytes, expected " +
                      std::to_string(expected) + " (" + std::to_string(bundle.samples.size()) + " one-shots of " +
                      std::to_string(bundle.length) + " float32 samples; files.originals in " + kSidecarName + ")");
}

}  // namespace

std::vector<float> read_originals(const Bundle& bundle) {
  if (bundle.originals_path.empty()) return {};
  std::vector<float> values(bundle.samples.size() * static_cast<size_t>(bundle.length));
  std::ifstream file(bundle.originals_path, std::ios::binary);
  file.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!file) throw BundleError(bundle.originals_path + ": cannot be read");
  static_assert(sizeof(float) == 4, "files.originals is float32");
  return values;  // little-endian on every platform the plugin builds for (x86-64, arm64)
}

std::string sha256_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw BundleError(path + ": cannot be read");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
  std::vector<char> block(1 << 20);
  while (file.read(block.data(), block.size()) || file.gcount() > 0)
    EVP_DigestUpdate(context.get(), block.data(), static_cast<size_t>(file.gcount()));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(context.get(), digest, &size);
  static const char* hex = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < size; ++i) {
    text += hex[digest[i] >> 4];
    text += hex[digest[i] & 15];
  }
  return text;
}

Bundle load_bundle(const std::string& folder) {
  if (!fs::is_directory(folder))
    throw BundleError(folder + ": not a bundle folder (expected a NAME.latentplay/ folder holding " + kSidecarName +
                      ", decoder.ts, encoder.ts)");
  const std::string sidecar_path = (fs::path(folder) / kSidecarName).string();
  json sidecar = parse_sidecar(sidecar_path);
  const json stored_version = sidecar.value("schema_version", json());
  if (auto problem = contract::check_sidecar(sidecar))
    throw BundleError(sidecar_path + ": " + problem->field + ": " + problem->problem);

  Bundle bundle;
  bundle.stored_schema_version = static_cast<int>(stored_version.get<double>());  // a version the upgrade took

  bundle.folder = folder;
  bundle.model_id = sidecar["model_id"].get<std::string>();
  bundle.sample_rate = sidecar["sample_rate"].get<int>();
  bundle.length = sidecar["length"].get<int>();
  bundle.latent_dim = sidecar["latent_dim"].get<int>();
  bundle.prep.silence_threshold_dbfs = sidecar["prep"]["silence_threshold_dbfs"].get<double>();
  bundle.prep.onset_threshold_db = sidecar["prep"]["onset_threshold_db"].get<double>();
  bundle.prep.fade_out = sidecar["prep"]["fade_out"].get<double>();
  for (size_t k = 0; k < kNumControls; ++k) bundle.controls[k] = control_of(sidecar["controls"][k]);
  bundle.pca_mean = vector_of(sidecar["pca"]["mean"]);
  for (const json& pack : sidecar["packs"]) bundle.packs.push_back(pack.get<std::string>());
  for (const json& sample : sidecar["samples"]) bundle.samples.push_back(sample_of(sample));

  const json& files = sidecar["files"];
  for (const auto& [role, entry] : files.items())
    verify_file(folder, entry["path"].get<std::string>(), role, entry["sha256"].get<std::string>());
  bundle.decoder_path = (fs::path(folder) / files["decoder"]["path"].get<std::string>()).string();
  bundle.encoder_path = (fs::path(folder) / files["encoder"]["path"].get<std::string>()).string();
  if (files.contains("originals")) {
    bundle.originals_path = (fs::path(folder) / files["originals"]["path"].get<std::string>()).string();
    check_originals_size(bundle);
  }
  return bundle;
}

Eigen::MatrixXd Bundle::control_matrix() const {
  Eigen::MatrixXd weights(kNumControls, latent_dim);
  for (int k = 0; k < kNumControls; ++k) weights.row(k) = controls[k].weights.transpose();
  return weights;
}

Eigen::VectorXd Bundle::intercepts() const {
  Eigen::VectorXd values(kNumControls);
  for (int k = 0; k < kNumControls; ++k) values[k] = controls[k].intercept;
  return values;
}

Eigen::VectorXd Bundle::spans() const {
  Eigen::VectorXd values(kNumControls);
  for (int k = 0; k < kNumControls; ++k) values[k] = controls[k].span();
  return values;
}

int Bundle::find_sample(const std::string& name) const {
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::string& path = samples[i].path;
    if (name == path || name == fs::path(path).stem().string() || name == std::to_string(i)) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace latentplay
