#!/usr/bin/env bash
# The demo, from a fresh Debian machine: installs what it needs, generates the procedural kick
# pack, trains the demo model on the CPU for a short budget, exports it as a model bundle,
# evaluates it and draws its latent map. DEMO_MINUTES (default 5) sets the training budget.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
latentplay=.venv/bin/latentplay
$latentplay synth-pack data/synth-kicks
$latentplay train data/synth-kicks --config demo --out runs/demo --logger wandb \
  --max-minutes "${DEMO_MINUTES:-5}"
$latentplay export runs/demo --data data/synth-kicks --out out/demo.latentplay --force
$latentplay eval out/demo.latentplay --data data/synth-kicks --json out/demo-eval.json
$latentplay plot out/demo.latentplay --out out/demo-map.png
$latentplay regen out/demo.latentplay --sample 0 --frequency 45 --out out/demo-regen-45hz.wav
echo
echo "Demo done. Training run: runs/demo (checkpoints, examples/, wandb offline run)."
echo "Model bundle: out/demo.latentplay; evaluation: out/demo-eval.json; latent map: out/demo-map.png;"
echo "a regenerated kick moved to 45 Hz: out/demo-regen-45hz.wav"
