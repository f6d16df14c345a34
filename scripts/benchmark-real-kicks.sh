#!/usr/bin/env bash
# The real-kick benchmark (docs/training.md): builds the kick benchmark from Debian's drum kits,
# trains a config on its training kits (default: pack, the README's own-pack recipe, at most 28
# minutes), exports, evaluates on the training kits and on the held-out kits (whole kits the
# model never hears), and prints which targets were met. Usage: scripts/benchmark-real-kicks.sh [CONFIG] [train options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
latentplay=.venv/bin/latentplay
config=${1:-pack}
shift || true
run=runs/benchmark-$config
$latentplay kits --out data/drums --instruments kick
$latentplay train data/drums/kick/train --config "$config" --out "$run" --logger csv "$@"
# --force: the benchmark measures whatever the recipe made, even a model the quality check refuses
$latentplay export "$run" --data data/drums/kick/train --out "$run/kicks.latentplay" --force
$latentplay eval "$run/kicks.latentplay" --data data/drums/kick/train --data data/drums/kick/heldout \
  --json "$run/eval.json" --targets
