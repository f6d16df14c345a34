#!/usr/bin/env bash
# The demo, from a fresh Debian machine: installs everything and builds the plugin, then renders
# the demo groove (presets/demo-groove.mid, 4 bars at 128 BPM) through the real LatentPlay VST3,
# offline, with the five controls automated in turn across their ranges, and draws it.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
bash scripts/setup.sh
.venv/bin/latentplay render --midi presets/demo-groove.mid --bundle presets/demo.latentplay \
  --automate frequency=min:max@0:0.2 --automate attack=min:max@0.2:0.4 --automate release=min:max@0.4:0.6 \
  --automate pc1=min:max@0.6:0.8 --automate pc2=min:max@0.8:1 \
  --out out/demo.wav --plot out/demo.png
vst3=build/python/plugin/LatentPlay_artefacts/Release/VST3/LatentPlay.vst3
echo
echo "Demo done in $((SECONDS - started)) s: listen to out/demo.wav, look at out/demo.png."
echo "The plugin: $vst3 (it carries the demo bundle and 8 factory presets)."
echo "Load it in a DAW: cmake --build build/python --target install_vst3 copies it into ~/.vst3;"
echo "rescan plugins, add LatentPlay as an instrument, play notes; choose your own bundle with Bundle..."
