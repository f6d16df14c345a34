"""Malformed bundles are each rejected with a message naming the file and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from latentplay.bundle import BundleError, load_bundle
from latentplay.render import ReferenceRenderer
from tests.export.malformed import MALFORMED, UNLOADABLE, make_copy

LATENTPLAY = str(Path(sys.executable).parent / "latentplay")


@pytest.mark.parametrize("name, mutate, words", MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_bundle_is_rejected(smoke_export, tmp_path, name, mutate, words):
    bundle = make_copy(smoke_export[2], tmp_path)
    mutate(bundle)
    with pytest.raises(BundleError) as error:
        load_bundle(bundle)
    for word in words:
        assert word in str(error.value), str(error.value)


@pytest.mark.parametrize("name, mutate, words", UNLOADABLE, ids=[case[0] for case in UNLOADABLE])
def test_unloadable_torchscript_is_rejected(smoke_export, tmp_path, name, mutate, words):
    bundle = make_copy(smoke_export[2], tmp_path)
    mutate(bundle)
    load_bundle(bundle)  # the sidecar and hashes are fine ...
    with pytest.raises(BundleError) as error:  # ... the model is not
        ReferenceRenderer(bundle)
    for word in words:
        assert word in str(error.value), str(error.value)


def test_not_a_folder(tmp_path):
    with pytest.raises(BundleError, match="not a bundle folder"):
        load_bundle(tmp_path / "nothing.latentplay")


def test_cli_reports_a_broken_bundle_in_one_line(smoke_export, tmp_path):
    bundle = make_copy(smoke_export[2], tmp_path)
    MALFORMED[5][1](bundle)  # weights too short
    result = subprocess.run([LATENTPLAY, "info", str(bundle)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "controls[2].weights" in result.stderr
