"""`latentplay render` finds the plugin where it is installed, not only in a source checkout's
build folder: the path given, $LATENTPLAY_VST3, ~/.vst3 and the system folders, then the build."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from latentplay import host


@pytest.fixture
def without_build_folder(monkeypatch, tmp_path):
    """As after `pip install latentplay` without the sources: no build folder, an empty home."""
    monkeypatch.setattr(host, "BUILT_VST3", tmp_path / "no-build" / "LatentPlay.vst3")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LATENTPLAY_VST3", raising=False)
    monkeypatch.setattr(host, "SYSTEM_VST3_FOLDERS", (tmp_path / "usr-lib-vst3",))
    return tmp_path


def test_the_plugin_installed_in_the_users_vst3_folder_is_found_and_plays(vst3_path, without_build_folder):
    installed = without_build_folder / "home" / ".vst3" / "LatentPlay.vst3"
    shutil.copytree(vst3_path, installed)
    assert host.find_vst3() == installed
    plugin = host.load_instrument(bundle=host.DEFAULT_BUNDLE)
    audio = plugin([(bytes([0x90, 60, 127]), 0.0)], duration=0.5, sample_rate=48000, num_channels=2)
    assert np.abs(audio).max() > 0.05


def test_the_environment_variable_comes_before_the_installed_plugin(vst3_path, without_build_folder, monkeypatch):
    (without_build_folder / "home" / ".vst3" / "LatentPlay.vst3").mkdir(parents=True)
    monkeypatch.setenv("LATENTPLAY_VST3", str(vst3_path))
    assert host.find_vst3() == vst3_path


def test_a_given_path_that_does_not_exist_is_an_error(vst3_path, without_build_folder):
    with pytest.raises(FileNotFoundError, match="elsewhere.vst3: no VST3 bundle there"):
        host.find_vst3(without_build_folder / "elsewhere.vst3")


def test_nothing_found_says_where_it_looked(without_build_folder):
    with pytest.raises(FileNotFoundError) as error:
        host.find_vst3()
    message = str(error.value)
    for place in (".vst3", "usr-lib-vst3", "no-build", "LATENTPLAY_VST3", "install_vst3"):
        assert place in message
