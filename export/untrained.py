"""``python -m latentplay.export.untrained CONFIG DATA OUT``: a verified bundle of an untrained
model of a training config, over a small procedural pack (written to DATA unless it is there).

`latentplay bench` times these (timing does not depend on the weights). Writing a bundle takes
the exporter and the Lightning module, so the bench runs this in a child process and never
imports the training wing itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from latentplay.dataset import load_pack_tree
from latentplay.export.exporter import write_bundle
from latentplay.synth import write_pack
from latentplay.training.config import load_config
from latentplay.training.lightning import LatentPlayModule


def make_untrained_bundle(config_name: str, data: Path, out: Path) -> Path:
    torch.manual_seed(0)
    config = load_config(config_name)
    if not data.exists():
        write_pack(data, n=10, seed=1)
    module = LatentPlayModule(config.to_dict(), [60.0, 4.0, 120.0], [20.0, 3.0, 60.0])
    pack = load_pack_tree(data, config.data.prep())
    return write_bundle(module, pack, out, {"note": "untrained, made by latentplay bench"})


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m latentplay.export.untrained CONFIG DATA OUT", file=sys.stderr)
        return 2
    config_name, data, out = argv
    try:
        make_untrained_bundle(config_name, Path(data), Path(out))
    except (ValueError, FileNotFoundError) as error:  # bad input: one line naming the problem
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
