// How one-shots made by LatentPlay are named on disk: `latentplay expand`'s files and the
// plugin's exported and dragged-out WAVs (one definition; Python calls it through _engine).
#pragma once

#include <array>
#include <string>

#include "latentplay/contract.hpp"

namespace latentplay {

// The start's stem (a sample's path or an audio file's name, without folders and extension) and
// the five control values in kControlNames order and their units, e.g.
//   kick_03__pc1+0.18_pc2-2.59_frequency+49.73Hz_attack+3.21ms_release+140.98ms.wav
std::string one_shot_file_name(const std::string& start_name, const std::array<double, kNumControls>& values);

}  // namespace latentplay
