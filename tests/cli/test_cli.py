"""The command line as a user runs it (a real subprocess where the entry point matters)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import soundfile

from latentplay.cli import main

LATENTPLAY = str(Path(sys.executable).parent / "latentplay")


def test_entry_point_is_installed():
    result = subprocess.run([LATENTPLAY, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("latentplay ")


def test_runtime_library_does_not_import_training_stack():
    script = ("import sys, latentplay, latentplay.cli, latentplay.dataset, latentplay.features, "
              "latentplay.synth, latentplay.kits; "
              "print(sorted(m for m in ('lightning', 'wandb', 'auraloss') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_synth_pack_command(tmp_path, capsys):
    assert main(["synth-pack", str(tmp_path / "pack"), "--n", "10", "--seed", "4"]) == 0
    manifest = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    files = sorted((tmp_path / "pack").rglob("*.wav"))
    assert len(files) == 10 and len(manifest) == 10 if isinstance(manifest, list) else len(files) == 10
    assert "Wrote 10 kicks" in capsys.readouterr().out


def test_scan_reports_features_and_skipped_files(tmp_path, capsys):
    assert main(["synth-pack", str(tmp_path), "--n", "5"]) == 0
    broken = tmp_path / "synth-kicks" / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt garbage")
    assert main(["scan", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Loaded 5 one-shots" in printed
    assert "synth-kicks/broken.wav: not readable as audio" in printed
    assert "frequency (Hz)" in printed and "release (ms)" in printed
    assert soundfile.info(str(next(tmp_path.rglob("*_000.wav")))).samplerate == 44100


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    result = subprocess.run([LATENTPLAY, "scan", str(tmp_path / "missing")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not a folder" in result.stderr
