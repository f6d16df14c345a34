// The bundle's TorchScript encoder and decoder, run by libtorch under InferenceMode.
// Torch headers stay inside model.cpp (pimpl): they are slow to compile and need not leak.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace latentplay {

class TorchModel {
 public:
  // Loads both files; throws BundleError naming the file when one is not loadable TorchScript.
  TorchModel(const std::string& decoder_path, const std::string& encoder_path, int latent_dim, int length);
  ~TorchModel();
  TorchModel(const TorchModel&) = delete;
  TorchModel& operator=(const TorchModel&) = delete;

  // latent (latent_dim) -> audio (length) at the model rate.
  std::vector<float> decode(const std::vector<float>& latent) const;
  // `count` latent points (count × latent_dim, row-major) -> count one-shots (count × length,
  // row-major) in ONE decoder call of batch `count` (the bundle contract's decoder takes (B, D)).
  // count 0 -> empty.
  std::vector<float> decode_batch(const std::vector<float>& latents, int count) const;
  // prepared one-shot (length) -> latent (latent_dim).
  std::vector<float> encode(const std::vector<float>& audio) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// libtorch's intra-op thread count is per process: a plugin must not grab every core.
void set_intra_op_threads(int threads);
int intra_op_threads();

}  // namespace latentplay
