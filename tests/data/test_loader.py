"""The pack loader: formats, preparation, and every kind of bad input skipped with its reason."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from latentplay.audio import ONSET_THRESHOLD_DB, PrepConfig, prepare_one_shot
from latentplay.dataset import NoUsableAudioError, load_pack_tree
from tests.conftest import simple_kick

CONFIG = PrepConfig()  # 22050 Hz, 0.3 s, 10 % fade


def write(path: Path, audio: np.ndarray, rate: int, subtype: str, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, rate, subtype=subtype, format=fmt)
    return path


def good_pack(root: Path) -> Path:
    """Every readable format and layout the loader must cope with."""
    write(root / "PackA" / "k44_16_stereo.wav", np.stack([simple_kick(44100)] * 2, axis=1), 44100, "PCM_16")
    write(root / "PackA" / "Sub1" / "k48_24.flac", simple_kick(48000), 48000, "PCM_24")
    write(root / "PackA" / "Sub1" / "Deeper" / "k22_u8.wav", simple_kick(22050), 22050, "PCM_U8")
    write(root / "PackB" / "k96_float.aiff", simple_kick(96000), 96000, "FLOAT", "AIFF")
    write(root / "PackB" / "k32.ogg", simple_kick(32000), 32000, "VORBIS")
    late = np.concatenate([np.zeros(int(0.02 * 44100)), simple_kick(44100)])
    write(root / "PackB" / "late_onset.wav", late, 44100, "PCM_24")
    write(root / "PackB" / "short.wav", simple_kick(44100, seconds=0.1), 44100, "PCM_16")
    write(root / "PackB" / "quiet.wav", 10 ** (-23 / 20) / 0.9 * simple_kick(44100), 44100, "PCM_16")
    return root


def bad_files(root: Path) -> dict[str, str]:
    """Bad files next to good ones; returns relative path -> expected words in the reason."""
    pack = root / "Bad"
    pack.mkdir(parents=True, exist_ok=True)
    (pack / "zero_bytes.wav").write_bytes(b"")
    (pack / "not_audio.flac").write_text("this is a text file with an audio extension\n")
    valid = write(pack / "tmp.wav", simple_kick(44100), 44100, "PCM_16").read_bytes()
    (pack / "truncated_header.wav").write_bytes(valid[:30])
    (pack / "tmp.wav").unlink()
    write(pack / "no_frames.wav", np.zeros(0), 44100, "PCM_16")
    write(pack / "all_silent.wav", np.zeros(8000), 44100, "PCM_16")
    nan = simple_kick(44100)
    nan[100] = np.nan
    write(pack / "nan.wav", nan, 44100, "FLOAT")
    inf = simple_kick(44100)
    inf[50] = np.inf
    write(pack / "inf.wav", inf, 44100, "FLOAT")
    return {
        "Bad/zero_bytes.wav": "not readable as audio",
        "Bad/not_audio.flac": "not readable as audio",
        "Bad/truncated_header.wav": "not readable as audio",
        "Bad/no_frames.wav": "empty",
        "Bad/all_silent.wav": "silent",
        "Bad/nan.wav": "NaN or infinite",
        "Bad/inf.wav": "NaN or infinite",
    }


def test_every_format_loads_prepared(tmp_path):
    pack = load_pack_tree(good_pack(tmp_path), CONFIG)
    assert pack.skipped == []
    assert pack.audio.shape == (8, 6615) and pack.audio.dtype == np.float32
    assert np.all(np.isfinite(pack.audio))
    rates = {sample.source.sample_rate for sample in pack.samples}
    assert rates == {22050, 32000, 44100, 48000, 96000}
    for audio in pack.audio:
        assert np.abs(audio).max() == pytest.approx(1.0, abs=1e-6)  # peak-normalised (quiet too)
        assert audio[-1] == 0.0  # the fade ends at silence
        fade = int(0.1 * 6615)
        ramp = np.linspace(1.0, 0.0, fade)
        assert np.all(np.abs(audio[-fade:]) <= ramp + 1e-6)


def test_pack_and_subpack_labels(tmp_path):
    pack = load_pack_tree(good_pack(tmp_path), CONFIG)
    labels = {s.ref.relative_path: (s.ref.pack, s.ref.subpack) for s in pack.samples}
    assert labels["PackA/k44_16_stereo.wav"] == ("PackA", "")
    assert labels["PackA/Sub1/k48_24.flac"] == ("PackA", "Sub1")
    assert labels["PackA/Sub1/Deeper/k22_u8.wav"] == ("PackA", "Sub1/Deeper")
    assert pack.packs == ["PackA", "PackB"]


def test_leading_silence_is_trimmed_to_the_onset(tmp_path):
    pack = load_pack_tree(good_pack(tmp_path), CONFIG)
    by_name = {s.ref.relative_path: (s, a) for s, a in zip(pack.samples, pack.audio)}
    late_sample, late = by_name["PackB/late_onset.wav"]
    assert late_sample.source.onset_s == pytest.approx(0.02, abs=0.001)
    threshold = 10 ** (ONSET_THRESHOLD_DB / 20)
    assert abs(late[0]) >= threshold * 0.5  # starts at the onset, not in the silence
    prompt = prepare_one_shot(simple_kick(44100), 44100, CONFIG)
    assert np.max(np.abs(late - prompt)) < 0.02  # same kick, same prepared one-shot


def test_short_file_is_padded_with_silence(tmp_path):
    pack = load_pack_tree(good_pack(tmp_path), CONFIG)
    short = pack.audio[[s.ref.relative_path for s in pack.samples].index("PackB/short.wav")]
    assert np.all(short[int(0.1 * 22050) + 5:] == 0.0)


def test_bad_files_are_skipped_with_their_reason(tmp_path):
    good_pack(tmp_path)
    expected = bad_files(tmp_path)
    pack = load_pack_tree(tmp_path, CONFIG)
    assert len(pack.samples) == 8  # nothing good was lost
    reasons = {skip.relative_path: skip.reason for skip in pack.skipped}
    assert set(reasons) == set(expected)
    for path, words in expected.items():
        assert words in reasons[path], (path, reasons[path])
    summary = pack.summary()
    for path in expected:
        assert path in summary


def test_unreadable_file_is_skipped_with_permission_denied():
    """Root reads everything, so a forked child drops to an unprivileged user and loads."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    nobody = pwd.getpwnam("nobody")
    folder = Path(tempfile.mkdtemp(prefix="latentplay-perm-"))
    try:
        folder.chmod(0o755)
        write(folder / "Pack" / "ok.wav", simple_kick(44100), 44100, "PCM_16")
        locked = write(folder / "Pack" / "locked.wav", simple_kick(44100), 44100, "PCM_16")
        (folder / "Pack").chmod(0o755)
        locked.chmod(0o000)
        report = load_as_user(folder, nobody.pw_uid, nobody.pw_gid)
        assert report.splitlines()[0] == "1", report
        assert "Pack/locked.wav: permission denied" in report
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=True)


def load_as_user(folder: Path, uid: int, gid: int) -> str:
    """Run the loader in a forked child with another effective user; return its report."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: drop privileges, load, report, exit without cleanup
        os.close(read_end)
        try:
            os.setegid(gid)
            os.seteuid(uid)
            pack = load_pack_tree(folder, CONFIG)
            text = f"{len(pack.samples)}\n{pack.summary()}"
        except BaseException as error:  # reported to the parent, which fails the test
            text = f"error\n{error!r}"
        os.write(write_end, text.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        report = pipe.read()
    os.waitpid(child, 0)
    return report


def test_a_folder_where_nothing_loads_is_a_clear_error(tmp_path):
    bad_files(tmp_path)
    with pytest.raises(NoUsableAudioError) as error:
        load_pack_tree(tmp_path, CONFIG)
    message = str(error.value)
    assert str(tmp_path) in message and "none usable" in message and "Bad/nan.wav" in message


def test_an_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(NoUsableAudioError, match="no audio files"):
        load_pack_tree(tmp_path, CONFIG)


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(NoUsableAudioError, match="not a folder"):
        load_pack_tree(tmp_path / "nope", CONFIG)


def test_silence_never_divides_by_zero():
    from latentplay.audio import UnusableAudio

    with pytest.raises(UnusableAudio, match="silent"):
        prepare_one_shot(np.zeros(1000), 44100, CONFIG)


@pytest.mark.parametrize("name,subtype,fmt,channels", [
    ("cut16.wav", "PCM_16", "WAV", 1), ("cut24.wav", "PCM_24", "WAV", 2), ("cut.aiff", "PCM_16", "AIFF", 1),
    ("cut_rf64.wav", "PCM_16", "RF64", 1),  # the data size lies in the ds64 chunk
])
def test_a_file_cut_mid_data_is_skipped_as_truncated(tmp_path, name, subtype, fmt, channels):
    """An interrupted copy: the header is intact, the data stops early (here mid-frame). libsndfile
    reads it as a shorter sound without an error; the loader must say what happened."""
    kick = np.stack([simple_kick(44100, seconds=0.3)] * channels, axis=1)
    intact = write(tmp_path / "intact" / "Pack" / name, kick, 44100, subtype, fmt)
    assert load_pack_tree(tmp_path / "intact", CONFIG).skipped == []
    frame_bytes = channels * int(subtype[-2:]) // 8
    audio_start = intact.stat().st_size - len(kick) * frame_bytes  # soundfile writes the audio last
    cut = tmp_path / "cut" / "Pack" / name
    cut.parent.mkdir(parents=True)
    shutil.copyfile(intact, cut)
    os.truncate(cut, audio_start + 480 * frame_bytes + 1)
    write(tmp_path / "cut" / "Pack" / "good.wav", simple_kick(44100), 44100, "PCM_16")
    pack = load_pack_tree(tmp_path / "cut", CONFIG)
    assert [s.ref.relative_path for s in pack.samples] == ["Pack/good.wav"]
    assert [(skip.relative_path, skip.reason) for skip in pack.skipped] == [
        (f"Pack/{name}", f"truncated: the header declares {len(kick)} frames, the file holds 480 "
                         f"(an interrupted copy?)")]


def test_a_wav_with_a_chunk_after_its_data_is_complete(tmp_path):
    path = write(tmp_path / "Pack" / "tagged.wav", simple_kick(44100), 44100, "PCM_16")
    data = bytearray(path.read_bytes())
    data += b"LIST" + (5).to_bytes(4, "little") + b"INFOx\0"  # odd size, padded
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    pack = load_pack_tree(tmp_path, CONFIG)
    assert pack.skipped == [] and pack.samples[0].source.frames == len(simple_kick(44100))


def test_a_streamed_wav_without_a_data_size_is_not_truncated(tmp_path):
    """Streaming writers put 0xFFFFFFFF ("unknown") in the data size: larger than the file, but
    no truncation."""
    path = write(tmp_path / "Pack" / "streamed.wav", simple_kick(44100), 44100, "PCM_16")
    data = bytearray(path.read_bytes())
    assert data[36:40] == b"data"
    data[40:44] = (0xFFFFFFFF).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert load_pack_tree(tmp_path, CONFIG).skipped == []


def test_scan_shows_formats_full_paths_and_the_cropped_share(tmp_path, capsys):
    from latentplay.cli import main

    folder = tmp_path / "Pack" / "a sub-pack folder with a name long enough to pass sixty characters"
    write(folder / "long_stereo.wav", np.stack([simple_kick(48000, seconds=0.5)] * 2, axis=1), 48000, "PCM_24")
    write(folder / "short.flac", simple_kick(44100, seconds=0.1), 44100, "PCM_16")
    assert main(["scan", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "1 of 2 one-shots (50 %) are longer than 300 ms after the onset and are cropped" in output
    rows = {line.split("  ")[-1]: line.split()[:3] for line in output.splitlines() if line.endswith((".wav", ".flac"))}
    assert rows == {str(folder / "long_stereo.wav"): ["48000", "PCM_24", "2"],
                    str(folder / "short.flac"): ["44100", "PCM_16", "1"]}


def test_a_one_shot_exactly_the_model_duration_is_not_cropped(tmp_path):
    """Measured in whole frames after the onset: seconds subtracted as floats could land above."""
    write(tmp_path / "Pack" / "exact.wav", np.concatenate([np.zeros(10), simple_kick(48000, seconds=0.3)]), 48000,
          "PCM_24")
    pack = load_pack_tree(tmp_path, CONFIG)
    assert pack.samples[0].source.seconds_after_onset == CONFIG.duration_s
    assert pack.cropped_count() == 0
