#include "latentplay/naming.hpp"

#include <cstdio>

namespace latentplay {

namespace {

// As Python's Path(name).stem: the last component without its last suffix (a leading dot is not one).
std::string stem_of(const std::string& name) {
  const size_t slash = name.find_last_of('/');
  const std::string last = slash == std::string::npos ? name : name.substr(slash + 1);
  const size_t dot = last.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? last : last.substr(0, dot);
}

}  // namespace

std::string one_shot_file_name(const std::string& start_name, const std::array<double, kNumControls>& values) {
  std::string name = stem_of(start_name) + "_";
  for (int k = 0; k < kNumControls; ++k) {
    char value[64];
    std::snprintf(value, sizeof value, "%+.2f", values[static_cast<size_t>(k)]);
    name += std::string("_") + kControlNames[static_cast<size_t>(k)] + value + kControlUnits[static_cast<size_t>(k)];
  }
  return name + ".wav";
}

}  // namespace latentplay
