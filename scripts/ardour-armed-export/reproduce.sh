#!/usr/bin/env bash
# Issue 13, item 8: a note at the very start of an Ardour export is lost when the MIDI track is
# record-armed. This exports the same session armed and not armed, with LatentPlay and with
# Ardour's own LV2 synth (ACE Reasonable Synth), and prints each file's peak where each note sounds.
# Needs Ardour 7 (`apt-get install -y ardour`; not part of the project's set-up) and the built VST3.
# usage: scripts/ardour-armed-export/reproduce.sh [RUNS] [WORK_DIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
RUNS=${1:-3}; W=${2:-/tmp/latentplay-ardour}
VST3=$ROOT/build/python/plugin/LatentPlay_artefacts/Release/VST3/LatentPlay.vst3
PY=$ROOT/.venv/bin/python
command -v ardour7-lua >/dev/null || { echo "ardour7-lua missing: apt-get install -y ardour" >&2; exit 1; }
export HOME=$W/home                       # Ardour's own config and plugin cache, kept apart
export LD_LIBRARY_PATH=$("$PY" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
mkdir -p "$HOME/.vst3" "$W/sess" "$W/out"
ln -sfn "$VST3" "$HOME/.vst3/LatentPlay.vst3"
LD_LIBRARY_PATH=/usr/lib/ardour7:$LD_LIBRARY_PATH /usr/lib/ardour7/ardour-vst3-scanner -f -q "$HOME/.vst3/LatentPlay.vst3" >/dev/null 2>&1
make_base() {  # DIR PLUGIN: ardour7-lua sometimes aborts while setting up, so retry
  for try in 1 2 3 4; do
    rm -rf "$1"
    ardour7-lua "$HERE/create.lua" "$1" base "$2" >/dev/null 2>&1 || true
    grep -q "name=\"$2\"" "$1/base.ardour" 2>/dev/null && return 0
  done
  echo "could not create $1" >&2; return 1
}
make_base "$W/sess/base_lp" LatentPlay
make_base "$W/sess/base_rs" "ACE Reasonable Synth"
for instrument in lp rs; do
  for armed in 1 0; do
    for run in $(seq 1 "$RUNS"); do
      name=${instrument}_armed${armed}_run${run}
      # notes (C4) at samples 0 and 24000; the session (export) range 0..96000
      python3 "$HERE/make_session.py" "$W/sess/base_$instrument" "$W/sess/$name" "$name" "$armed" 0,24000 96000
      ardour7-export -b float -o "$W/out/$name.wav" "$W/sess/$name" "$name" > "$W/out/$name.log" 2>&1
      "$PY" "$HERE/analyse.py" "$W/out/$name.wav"
    done
  done
done
