"""The built LV2 in a real LV2 host: jalv (the LV2 reference host, Debian's `jalv`) on a JACK server
with the dummy backend (`jackd2`: no sound card, no real-time rights needed), played by
jack_midiseq and recorded by jack_rec (JACK's example clients, in `jackd2`).

jalv finds the plugin by its URI through lilv, instantiates it with the features JUCE's LV2 wrapper
requires (urid:map, options with the maximum block length, bounded block length) and runs it in
JACK's process cycle, as it would on a sound card. The plugin is given no LATENTPLAY_BUNDLE: what it
plays is the demo bundle shipped inside LatentPlay.lv2/Resources."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from latentplay import host

RATE = 48000
CLIENT = "latentplay"


@pytest.fixture(scope="module")
def lv2_path() -> Path:
    """The built bundle (build/python), or $LATENTPLAY_LV2 (e.g. a build folder of one's own)."""
    try:
        return host.find_lv2(Path(os.environ.get("LATENTPLAY_LV2") or host.BUILT_LV2))
    except FileNotFoundError as error:
        pytest.fail(f"{error}: scripts/setup.sh builds it (pip install -e . builds the plugin)")


def test_the_bundle_declares_the_defined_uri_as_an_instrument_with_its_resources(lv2_path):
    manifest = (lv2_path / "manifest.ttl").read_text()
    assert f"<{host.LV2_URI}>" in manifest
    binaries = re.findall(r"lv2:binary <([^>]+)>", manifest)
    assert binaries and all((lv2_path / binary).is_file() for binary in binaries)
    description = (lv2_path / "dsp.ttl").read_text()
    assert f"<{host.LV2_URI}>" in description and "lv2:InstrumentPlugin" in description
    assert (lv2_path / "Resources" / "default.latentplay" / "latentplay.json").is_file()
    shipped = sorted(path.name for path in (host.REPOSITORY / "presets" / "factory").glob("*.json"))
    assert sorted(path.name for path in (lv2_path / "Resources" / "presets").glob("*.json")) == shipped


class Jack:
    """A JACK server of its own (a unique name: nothing else on the machine shares it) and the
    clients started on it, all stopped at the end."""

    def __init__(self, environment: dict[str, str], logs: Path):
        self.name = f"latentplay-test-{os.getpid()}"
        self.environment = {**environment, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1",
                            "JACK_NO_AUDIO_RESERVATION": "1"}
        self.logs = logs
        self.processes: list[subprocess.Popen] = []
        self.log_files: list = []

    def start(self, label: str, command: list[str], **options) -> subprocess.Popen:
        log = open(self.logs / f"{label}.log", "w")
        self.log_files.append(log)
        process = subprocess.Popen(command, env=self.environment, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=options.pop("stdin", subprocess.DEVNULL), **options)
        self.processes.append(process)
        return process

    def log(self, label: str) -> str:
        return (self.logs / f"{label}.log").read_text(errors="replace")

    def tool(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([*command], env=self.environment, capture_output=True, text=True, timeout=timeout)

    def ports(self) -> dict[str, dict[str, str]]:
        """Every port: {name: {"direction": "input"|"output", "type": "audio"|"midi"}}."""
        listing = self.tool("jack_lsp", "-s", self.name, "-p", "-t").stdout
        ports: dict[str, dict[str, str]] = {}
        for line in listing.splitlines():
            if not line.startswith(("\t", " ")):
                current = ports.setdefault(line.strip(), {})
            elif "properties:" in line:
                current["direction"] = "input" if "input" in line else "output"
            elif "audio" in line or "midi" in line:
                current["type"] = "audio" if "audio" in line else "midi"
        return ports

    def wait_for_ports(self, client: str, process: subprocess.Popen, timeout: float) -> dict[str, dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"{client} exited ({process.returncode}):\n{self.log(client)}")
            ports = {name: info for name, info in self.ports().items() if name.startswith(client + ":")}
            if ports:
                return ports
            time.sleep(0.2)
        pytest.fail(f"{client} showed no JACK port in {timeout} s:\n{self.log(client)}")

    def record(self, label: str, ports: list[str], seconds: int) -> np.ndarray:
        """jack_rec's 32-bit recording of `ports`, (frames, channels), as floats in -1..1."""
        path = self.logs / f"{label}.wav"
        run = self.tool("jack_rec", "-f", str(path), "-d", str(seconds), "-b", "32", *ports,  # the server: $JACK_DEFAULT_SERVER
                        timeout=seconds + 30)
        assert run.returncode == 0 and path.is_file(), run.stdout + run.stderr
        audio, rate = soundfile.read(path, dtype="float64", always_2d=True)
        assert rate == RATE and len(audio) >= seconds * RATE * 0.9
        return audio

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                if process.stdin is not None:
                    process.stdin.close()  # jalv quits at the end of its input
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        for log in self.log_files:
            log.close()


@pytest.fixture
def jack(virtual_screen, tmp_path):
    """A dummy-backend JACK server at 48 kHz, 512-sample periods. The clients get the tests' own X
    display (the plugin is JUCE: never :0); the server needs none."""
    for tool in ("jackd", "jalv", "jack_lsp", "jack_connect", "jack_midiseq", "jack_rec", "jack_wait"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: scripts/setup.sh installs jalv and jackd2")
    environment = {key: value for key, value in virtual_screen.items() if key != "LATENTPLAY_BUNDLE"}
    server = Jack(environment, tmp_path)
    try:
        jackd = server.start("jackd", ["jackd", "--no-realtime", "-n", server.name, "-d", "dummy",
                                       "-r", str(RATE), "-p", "512"])
        ready = server.tool("jack_wait", "-s", server.name, "-w", "-t", "20", timeout=30)
        if jackd.poll() is not None or ready.returncode != 0:
            pytest.fail(f"jackd did not start:\n{ready.stdout}{ready.stderr}\n{server.log('jackd')}")
        yield server
    finally:
        server.stop()


def test_jalv_loads_the_lv2_by_its_uri_and_plays_a_note(lv2_path, jack, tmp_path):
    # Only this bundle on the LV2 path: the host knows it by the URI its manifest declares.
    search_path = tmp_path / "lv2"
    search_path.mkdir()
    (search_path / lv2_path.name).symlink_to(lv2_path.resolve(), target_is_directory=True)
    jack.environment["LV2_PATH"] = str(search_path)

    # stdin kept open: jalv reads commands from it and quits at its end.
    jalv = jack.start(CLIENT, ["jalv", "-x", "-n", CLIENT, host.LV2_URI], stdin=subprocess.PIPE)
    ports = jack.wait_for_ports(CLIENT, jalv, timeout=120)  # the plugin loads its bundle first
    outputs = sorted(name for name, port in ports.items() if port == {"direction": "output", "type": "audio"})
    midi_inputs = [name for name, port in ports.items() if port == {"direction": "input", "type": "midi"}]
    assert len(outputs) == 2 and len(midi_inputs) == 1, ports

    # Running, with no MIDI: silence.
    quiet = jack.record("without-notes", outputs, seconds=1)
    assert np.all(quiet == 0)

    # C4 held for 12000 samples at the start of every second.
    sequencer = jack.start("sequencer", ["jack_midiseq", "notes", str(RATE), "0", "60", "12000"])
    notes = jack.wait_for_ports("notes", sequencer, timeout=20)
    connect = jack.tool("jack_connect", "-s", jack.name, next(iter(notes)), midi_inputs[0])
    assert connect.returncode == 0, connect.stdout + connect.stderr
    played = jack.record("with-notes", outputs, seconds=3)

    assert jalv.poll() is None, jack.log(CLIENT)
    assert np.all(np.isfinite(played))
    assert np.abs(played).max() > 0.05
    assert np.array_equal(played[:, 0], played[:, 1])  # a mono instrument on both outputs
    # One kick per loop, a second apart: it sounds, falls silent before the next note, and sounds
    # again (on the peak of each 10 ms: a kick starts where 200 ms of quiet end).
    window = RATE // 100
    envelope = np.abs(played[:len(played) // window * window, 0]).reshape(-1, window).max(axis=1)
    loud = envelope > 0.01
    onsets = [i for i in range(20, len(loud)) if loud[i] and not loud[i - 20:i].any()]
    assert len(onsets) >= 2 and np.all(np.abs(np.diff(onsets) - 100) <= 2), envelope.round(3).tolist()

    jalv.stdin.close()  # jalv quits at the end of its input, and then its log is complete
    assert jalv.wait(30) == 0, jack.log(CLIENT)
    assert f"Plugin:       {host.LV2_URI}" in jack.log(CLIENT)  # what jalv loaded, by that URI
