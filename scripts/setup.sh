#!/usr/bin/env bash
# Installs everything LatentPlay needs on a Debian bookworm machine (run as root, or with sudo
# available): Debian packages, a .venv with the pinned CPU torch, and the package in editable
# mode with its dev extras. Safe to re-run: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config  # the C++ side, built by scikit-build-core
  libeigen3-dev nlohmann-json3-dev      # the engine's linear algebra and JSON
  libssl-dev catch2                     # sha256 of bundle files; C++ unit tests
  juce-modules-source                   # JUCE 7 (CMake API) for the plugin, with its Linux deps
  xvfb openbox xdotool imagemagick      # the plugin editor's screenshot test (virtual screen)
  python3-venv python3-dev ca-certificates  # a venv for Debian's own python3; pip over https
  libsndfile1 libsoxr-dev               # audio I/O and the resampler the C++ engine will use
  hydrogen-drumkits hydrogen-data       # real recorded drum kits (latentplay kits: the benchmark)
  avldrums.lv2-soundfont                # the AVL drumkits as SoundFont 2 (latentplay kits reads them)
  jalv jackd2                           # the LV2 test: jalv (LV2 reference host) on a dummy JACK server
)
TORCH_VERSION=2.13.0   # a CPU build on local disk here; any other version is a CUDA download

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian_packages() {
  local missing=()
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "== Installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

install_python_environment() {
  local python=.venv/bin/python
  if [ ! -x "$python" ]; then
    echo "== Creating .venv"
    python3 -m venv .venv
    "$python" -m pip install -q --upgrade pip
  fi
  "$python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null \
    || { echo "== Installing torch==$TORCH_VERSION"; "$python" -m pip install -q "torch==$TORCH_VERSION"; }
  # The editable install builds the C++ engine and its Python module against the venv's torch,
  # hence no build isolation; it is redone only when the build description, the C++ sources or
  # the presets (the plugin carries the demo bundle and factory presets) change.
  local stamp=.venv/.latentplay-installed
  local wanted
  wanted=$(find pyproject.toml CMakeLists.txt plugin presets tests/engine/cpp -type f | sort | xargs cat \
    | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "== Installing latentplay (editable, dev extras)"
    "$python" -m pip install -q "scikit-build-core>=0.10" "pybind11>=2.12"
    "$python" -m pip install -q --no-build-isolation -e ".[dev]"
    echo "$wanted" > "$stamp"
  fi
}

install_debian_packages
install_python_environment
echo "== Set-up done: $(.venv/bin/latentplay --version)"
