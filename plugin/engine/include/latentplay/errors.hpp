// Typed errors of the engine. Every message names the file and, where there is one, the field.
// Nothing in the engine aborts the process: callers (plugin, Python) catch these.
#pragma once

#include <stdexcept>
#include <string>

namespace latentplay {

// The bundle folder, its sidecar or one of its files is unusable.
class BundleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A call with arguments the loaded model cannot take (wrong latent size, unknown sample...).
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace latentplay
