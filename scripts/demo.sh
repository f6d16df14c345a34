#!/usr/bin/env bash
# The demo, from a fresh Debian machine: installs what it needs, generates the procedural kick
# pack, trains the demo model on the CPU for a short budget and prints where the run went.
# DEMO_MINUTES (default 5) sets the training budget.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/latentplay synth-pack data/synth-kicks
.venv/bin/latentplay train data/synth-kicks --config demo --out runs/demo \
  --max-minutes "${DEMO_MINUTES:-5}" --logger wandb
