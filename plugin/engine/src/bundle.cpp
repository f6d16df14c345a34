// Reading and checking a model bundle (docs/bundle.md). The checks mirror the JSON Schema
// (python/latentplay/bundle_schema.json) and the cross-field rules of the Python reader; the
// malformed-bundle corpus in tests/export/malformed.py is run against both.
#include "latentplay/bundle.hpp"

#include <openssl/evp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "latentplay/errors.hpp"

namespace latentplay {

const std::array<const char*, kNumControls> kControlNames = {"pc1", "pc2", "frequency", "attack", "release"};
const std::array<const char*, kNumControls> kControlUnits = {"", "", "Hz", "ms", "ms"};

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSidecarName = "latentplay.json";
constexpr const char* kFormat = "latentplay-bundle";

// Raises "<sidecar>: <field>: <problem>" for the sidecar being read.
class SidecarReader {
 public:
  explicit SidecarReader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw BundleError(source_ + ": " + field + ": " + problem);
  }

  const json& member(const json& object, const std::string& field, const std::string& key) const {
    auto found = object.find(key);
    if (found == object.end()) fail(join(field, key), "missing");
    return *found;
  }

  const json& object(const json& parent, const std::string& field, const std::string& key) const {
    const json& value = member(parent, field, key);
    if (!value.is_object()) fail(join(field, key), "expected an object");
    return value;
  }

  const json& array(const json& parent, const std::string& field, const std::string& key) const {
    const json& value = member(parent, field, key);
    if (!value.is_array()) fail(join(field, key), "expected an array");
    return value;
  }

  std::string string(const json& parent, const std::string& field, const std::string& key,
                     bool non_empty = false) const {
    const json& value = member(parent, field, key);
    if (!value.is_string()) fail(join(field, key), "expected a string");
    if (non_empty && value.get<std::string>().empty()) fail(join(field, key), "must not be empty");
    return value.get<std::string>();
  }

  double number(const json& value, const std::string& field) const {
    if (!value.is_number()) fail(field, "expected a number");
    double result = value.get<double>();
    if (!std::isfinite(result)) fail(field, "not a finite number");
    return result;
  }

  double number(const json& parent, const std::string& field, const std::string& key) const {
    return number(member(parent, field, key), join(field, key));
  }

  long integer(const json& parent, const std::string& field, const std::string& key, long low, long high) const {
    const json& value = member(parent, field, key);
    if (!value.is_number_integer()) fail(join(field, key), "expected an integer");
    long result = value.get<long>();
    if (result < low || result > high)
      fail(join(field, key), "expected " + std::to_string(low) + " .. " + std::to_string(high) + ", got " +
                                 std::to_string(result));
    return result;
  }

  Eigen::VectorXd vector(const json& parent, const std::string& field, const std::string& key, int dim) const {
    const std::string name = join(field, key);
    const json& values = array(parent, field, key);
    Eigen::VectorXd result(values.size());
    for (size_t i = 0; i < values.size(); ++i) result[i] = number(values[i], name + "[" + std::to_string(i) + "]");
    if (static_cast<int>(values.size()) != dim)
      fail(name, "has " + std::to_string(values.size()) + " values, latent_dim is " + std::to_string(dim));
    return result;
  }

  std::string sha256(const json& parent, const std::string& field, const std::string& key) const {
    static const std::regex pattern("^[0-9a-f]{64}$");
    std::string value = string(parent, field, key);
    if (!std::regex_match(value, pattern)) fail(join(field, key), "expected a lower-case hex sha256");
    return value;
  }

  void only_keys(const json& object, const std::string& field, const std::set<std::string>& allowed) const {
    for (const auto& item : object.items())
      if (!allowed.count(item.key())) fail(join(field, item.key()), "unknown field");
  }

  static std::string join(const std::string& field, const std::string& key) {
    return field.empty() ? key : field + "." + key;
  }

 private:
  std::string source_;
};

json parse_sidecar(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw BundleError(path + ": missing");
  std::stringstream text;
  text << file.rdbuf();
  try {
    json parsed = json::parse(text.str());
    if (!parsed.is_object()) throw BundleError(path + ": expected a JSON object at the top level");
    return parsed;
  } catch (const json::parse_error& error) {
    throw BundleError(path + ": not valid JSON (" + std::string(error.what()) + ")");
  }
}

std::string file_entry(const SidecarReader& reader, const json& files, const std::string& role,
                       std::string* sha256) {
  const std::string field = "files." + role;
  const json& entry = reader.object(files, "files", role);
  reader.only_keys(entry, field, {"path", "sha256"});
  std::string name = reader.string(entry, field, "path", true);
  if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos)
    reader.fail(field + ".path", "must be a file name inside the bundle folder, got \"" + name + "\"");
  *sha256 = reader.sha256(entry, field, "sha256");
  return name;
}

void check_control_order(const SidecarReader& reader, const json& controls) {
  bool in_order = controls.size() == kNumControls;
  std::string got;
  for (size_t i = 0; i < controls.size(); ++i) {
    const json& control = controls[i];
    std::string name = control.is_object() && control.contains("name") && control["name"].is_string()
                           ? control["name"].get<std::string>()
                           : "?";
    got += (i ? ", " : "") + name;
    if (i < kNumControls && name != kControlNames[i]) in_order = false;
  }
  if (!in_order)
    reader.fail("controls", "expected the controls pc1, pc2, frequency, attack, release in this order, got " + got);
}

Control read_control(const SidecarReader& reader, const json& entry, size_t index, int dim) {
  const std::string field = "controls[" + std::to_string(index) + "]";
  if (!entry.is_object()) reader.fail(field, "expected an object");
  reader.only_keys(entry, field, {"name", "label", "unit", "kind", "range", "weights", "intercept", "r2"});
  Control control;
  control.name = reader.string(entry, field, "name");
  control.label = reader.string(entry, field, "label", true);
  control.unit = reader.string(entry, field, "unit");
  if (control.unit != kControlUnits[index])
    reader.fail(field + ".unit", std::string("expected \"") + kControlUnits[index] + "\", got \"" + control.unit + "\"");
  control.kind = reader.string(entry, field, "kind");
  const char* kind = index < 2 ? "pca" : "regression";
  if (control.kind != kind) reader.fail(field + ".kind", std::string("expected \"") + kind + "\"");
  const json& range = reader.array(entry, field, "range");
  if (range.size() != 2) reader.fail(field + ".range", "expected [min, max]");
  control.minimum = reader.number(range[0], field + ".range[0]");
  control.maximum = reader.number(range[1], field + ".range[1]");
  if (!(control.minimum < control.maximum))
    reader.fail(field + ".range", "expected finite [min, max] with min < max");
  control.weights = reader.vector(entry, field, "weights", dim);
  control.intercept = reader.number(entry, field, "intercept");
  const json& r2 = reader.member(entry, field, "r2");
  if (!r2.is_null()) {
    if (!r2.is_object()) reader.fail(field + ".r2", "expected null or {fit, cv}");
    reader.number(r2, field + ".r2", "fit");
    reader.number(r2, field + ".r2", "cv");
  }
  return control;
}

Sample read_sample(const SidecarReader& reader, const json& entry, size_t index, int dim,
                   const std::set<std::string>& packs) {
  const std::string field = "samples[" + std::to_string(index) + "]";
  if (!entry.is_object()) reader.fail(field, "expected an object");
  reader.only_keys(entry, field, {"path", "pack", "subpack", "latent", "features"});
  Sample sample;
  sample.path = reader.string(entry, field, "path", true);
  sample.pack = reader.string(entry, field, "pack", true);
  sample.subpack = reader.string(entry, field, "subpack");
  sample.latent = reader.vector(entry, field, "latent", dim);
  const json& features = reader.object(entry, field, "features");
  sample.frequency = reader.number(features, field + ".features", "frequency");
  sample.attack = reader.number(features, field + ".features", "attack");
  sample.release = reader.number(features, field + ".features", "release");
  if (!packs.count(sample.pack)) reader.fail(field + ".pack", "\"" + sample.pack + "\" is not in packs");
  return sample;
}

void read_pca(const SidecarReader& reader, const json& sidecar, Bundle& bundle) {
  const json& pca = reader.object(sidecar, "", "pca");
  reader.only_keys(pca, "pca", {"mean", "components", "explained_variance_ratio"});
  bundle.pca_mean = reader.vector(pca, "pca", "mean", bundle.latent_dim);
  const json& components = reader.array(pca, "pca", "components");
  if (components.size() != 2) reader.fail("pca.components", "expected 2 components");
  for (size_t k = 0; k < 2; ++k) {
    json holder = {{"c", components[k]}};
    reader.vector(holder, "pca.components[" + std::to_string(k) + "]", "c", bundle.latent_dim);
  }
  const json& ratios = reader.array(pca, "pca", "explained_variance_ratio");
  if (ratios.size() != 2) reader.fail("pca.explained_variance_ratio", "expected 2 numbers");
}

void read_packs_and_samples(const SidecarReader& reader, const json& sidecar, Bundle& bundle) {
  const json& packs = reader.array(sidecar, "", "packs");
  std::set<std::string> unique;
  for (size_t i = 0; i < packs.size(); ++i) {
    if (!packs[i].is_string() || packs[i].get<std::string>().empty())
      reader.fail("packs[" + std::to_string(i) + "]", "expected a non-empty string");
    if (!unique.insert(packs[i].get<std::string>()).second)
      reader.fail("packs[" + std::to_string(i) + "]", "listed twice");
    bundle.packs.push_back(packs[i].get<std::string>());
  }
  if (bundle.packs.empty()) reader.fail("packs", "expected at least one pack");
  const json& samples = reader.array(sidecar, "", "samples");
  if (samples.empty()) reader.fail("samples", "expected at least one sample");
  for (size_t i = 0; i < samples.size(); ++i)
    bundle.samples.push_back(read_sample(reader, samples[i], i, bundle.latent_dim, unique));
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

}  // namespace

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
  const json sidecar = parse_sidecar(sidecar_path);
  const SidecarReader reader(sidecar_path);

  if (sidecar.contains("controls") && sidecar["controls"].is_array()) check_control_order(reader, sidecar["controls"]);
  reader.only_keys(sidecar, "", {"format", "schema_version", "model_id", "files", "sample_rate", "length",
                                 "latent_dim", "controls", "pca", "packs", "samples", "training", "created_by"});
  if (reader.string(sidecar, "", "format") != kFormat) reader.fail("format", std::string("expected \"") + kFormat + "\"");
  long version = reader.integer(sidecar, "", "schema_version", 0, 1L << 30);
  if (version != kSchemaVersion)
    reader.fail("schema_version", "expected " + std::to_string(kSchemaVersion) + ", got " + std::to_string(version));

  Bundle bundle;
  bundle.folder = folder;
  bundle.model_id = reader.sha256(sidecar, "", "model_id");
  const json& files = reader.object(sidecar, "", "files");
  reader.only_keys(files, "files", {"decoder", "encoder"});
  std::string decoder_sha256, encoder_sha256;
  const std::string decoder_name = file_entry(reader, files, "decoder", &decoder_sha256);
  const std::string encoder_name = file_entry(reader, files, "encoder", &encoder_sha256);
  bundle.sample_rate = static_cast<int>(reader.integer(sidecar, "", "sample_rate", 8000, 384000));
  bundle.length = static_cast<int>(reader.integer(sidecar, "", "length", 16, 1L << 30));
  bundle.latent_dim = static_cast<int>(reader.integer(sidecar, "", "latent_dim", kNumControls, 1L << 20));

  const json& controls = reader.array(sidecar, "", "controls");
  check_control_order(reader, controls);
  for (size_t i = 0; i < kNumControls; ++i) bundle.controls[i] = read_control(reader, controls[i], i, bundle.latent_dim);
  read_pca(reader, sidecar, bundle);
  read_packs_and_samples(reader, sidecar, bundle);
  const json& training = reader.object(sidecar, "", "training");
  reader.object(training, "training", "config");
  reader.object(training, "training", "metrics");
  reader.string(sidecar, "", "created_by");
  if (bundle.model_id != decoder_sha256) reader.fail("model_id", "must equal files.decoder.sha256");

  verify_file(folder, decoder_name, "decoder", decoder_sha256);
  verify_file(folder, encoder_name, "encoder", encoder_sha256);
  bundle.decoder_path = (fs::path(folder) / decoder_name).string();
  bundle.encoder_path = (fs::path(folder) / encoder_name).string();
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
