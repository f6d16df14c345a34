#include "latentplay/model.hpp"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include "latentplay/errors.hpp"

namespace latentplay {

struct TorchModel::Impl {
  torch::jit::Module decoder, encoder;
  int latent_dim = 0, length = 0;
};

namespace {

torch::jit::Module load_module(const std::string& path) {
  try {
    torch::jit::Module module = torch::jit::load(path, torch::kCPU);
    module.eval();
    return module;
  } catch (const std::exception& error) {
    std::string reason = error.what();
    reason = reason.substr(0, reason.find('\n'));
    throw BundleError(path + ": not a loadable TorchScript file (" + reason + ")");
  }
}

// `rows` inputs of `input_size` values each (row-major) -> `rows` outputs of `output_size` values.
std::vector<float> run(torch::jit::Module& module, const std::vector<float>& input, int64_t rows, int64_t input_size,
                       int64_t output_size, const char* role) {
  c10::InferenceMode inference;
  auto tensor = torch::from_blob(const_cast<float*>(input.data()), {rows, input_size}, torch::kFloat32);
  torch::Tensor output;
  try {
    output = module.forward({tensor}).toTensor().contiguous().to(torch::kFloat32);
  } catch (const std::exception& error) {
    std::string reason = error.what();
    throw UsageError(std::string(role) + ": inference failed (" + reason.substr(0, reason.find('\n')) + ")");
  }
  if (output.numel() != rows * output_size || (rows > 1 && output.size(0) != rows))
    throw UsageError(std::string(role) + ": produced " + std::to_string(output.numel()) + " values for a batch of " +
                     std::to_string(rows) + ", expected " + std::to_string(rows * output_size));
  const float* data = output.data_ptr<float>();
  return std::vector<float>(data, data + rows * output_size);
}

}  // namespace

TorchModel::TorchModel(const std::string& decoder_path, const std::string& encoder_path, int latent_dim, int length)
    : impl_(std::make_unique<Impl>()) {
  impl_->decoder = load_module(decoder_path);
  impl_->encoder = load_module(encoder_path);
  impl_->latent_dim = latent_dim;
  impl_->length = length;
}

TorchModel::~TorchModel() = default;

std::vector<float> TorchModel::decode(const std::vector<float>& latent) const {
  if (static_cast<int>(latent.size()) != impl_->latent_dim)
    throw UsageError("decode: latent has " + std::to_string(latent.size()) + " values, expected " +
                     std::to_string(impl_->latent_dim));
  return run(impl_->decoder, latent, 1, impl_->latent_dim, impl_->length, "decoder");
}

std::vector<float> TorchModel::decode_batch(const std::vector<float>& latents, int count) const {
  if (count < 0 || latents.size() != static_cast<size_t>(count) * static_cast<size_t>(impl_->latent_dim))
    throw UsageError("decode_batch: " + std::to_string(latents.size()) + " values for " + std::to_string(count) +
                     " latent points of " + std::to_string(impl_->latent_dim));
  if (count == 0) return {};
  return run(impl_->decoder, latents, count, impl_->latent_dim, impl_->length, "decoder");
}

std::vector<float> TorchModel::encode(const std::vector<float>& audio) const {
  if (static_cast<int>(audio.size()) != impl_->length)
    throw UsageError("encode: audio has " + std::to_string(audio.size()) + " samples, expected " +
                     std::to_string(impl_->length));
  return run(impl_->encoder, audio, 1, impl_->length, impl_->latent_dim, "encoder");
}

void set_intra_op_threads(int threads) {
  if (threads < 1) throw UsageError("intra-op threads must be >= 1");
  at::set_num_threads(threads);
}

int intra_op_threads() { return at::get_num_threads(); }

}  // namespace latentplay
