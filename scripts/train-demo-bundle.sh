#!/usr/bin/env bash
# Reproduces presets/demo.latentplay (and presets/demo-eval.json): the procedural kick pack, the
# demo config for up to 400 epochs on the CPU (early stopping ended the shipped run at epoch 391,
# 28 minutes on 2 cores shared with other work), export, evaluation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
latentplay=.venv/bin/latentplay
$latentplay synth-pack data/synth-kicks
$latentplay train data/synth-kicks --config demo --out runs/presets-demo --logger csv --max-epochs 400 \
  --set training.max_minutes=null
$latentplay export runs/presets-demo --data data/synth-kicks --out presets/demo.latentplay --force
$latentplay eval presets/demo.latentplay --data data/synth-kicks --json presets/demo-eval.json
