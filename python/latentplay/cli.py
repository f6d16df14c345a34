"""The ``latentplay`` command line. Training code is imported only by the commands that train."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentplay import __version__
from latentplay.bundle import CONTROL_UNITS, SAMPLE_PARAMETER_STEPS
from latentplay.kits import INSTRUMENTS


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except (ValueError, FileNotFoundError) as error:  # bad input: one line naming the problem
        print(f"latentplay {args.command}: error: {error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latentplay", description=__doc__)
    parser.add_argument("--version", action="version", version=f"latentplay {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth-pack", help="write the procedural kick pack (the demo data)")
    synth.add_argument("out", type=Path)
    synth.add_argument("--n", type=int, default=160, help="number of kicks (default 160)")
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(handler=cmd_synth_pack)

    kits = commands.add_parser("kits", help="build the real-drum benchmark from Debian's drum kits (split by kit)")
    kits.add_argument("--out", type=Path, default=Path("data/drums"))
    kits.add_argument("--instruments", nargs="+", default=list(INSTRUMENTS), choices=INSTRUMENTS,
                      help="default: all of them")
    kits.set_defaults(handler=cmd_kits)

    scan = commands.add_parser("scan", help="load a pack tree as training would; report skips and features")
    scan.add_argument("data", type=Path)
    scan.add_argument("--config", default="demo", help="config whose data section applies")
    scan.set_defaults(handler=cmd_scan)

    model = commands.add_parser("model", help="describe a config's model: shapes, parameters, MACs")
    model.add_argument("--config", default="seed")
    model.set_defaults(handler=cmd_model)

    train = commands.add_parser("train", help="train an autoencoder on a pack tree")
    train.add_argument("data", type=Path, help="data folder: DATA/Pack/(SubPack/...)/file.wav")
    train.add_argument("--config", default="demo", help="bundled name (seed, demo, smoke) or YAML path")
    train.add_argument("--out", type=Path, required=True, help="run folder, e.g. runs/NAME")
    train.add_argument("--logger", choices=("wandb", "csv", "none"), default="wandb")
    train.add_argument("--resume", help="'last' (this run's last checkpoint) or a checkpoint path")
    train.add_argument("--max-epochs", type=int)
    train.add_argument("--max-minutes", type=float, help="wall-clock training budget")
    train.add_argument("--accelerator", help="auto | cpu | gpu")
    train.add_argument("--devices", help="auto | N, per machine (N > 1: DDP; with --accelerator cpu, N processes)")
    train.add_argument("--num-nodes", type=int, help="machines to train on with DDP (docs/training.md)")
    train.add_argument("--strategy", help="auto | ddp | ...")
    train.add_argument("--precision", help="auto | 32-true | 16-mixed | bf16-mixed")
    train.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override any config value, e.g. --set data.batch_size=16")
    train.set_defaults(handler=cmd_train)

    export = commands.add_parser("export", help="a trained run -> model bundle (TorchScript + sidecar)")
    export.add_argument("run", type=Path, help="run folder written by `latentplay train`")
    export.add_argument("--data", type=Path, required=True, help="the data folder the run trained on")
    export.add_argument("--out", type=Path, required=True, help="bundle folder, e.g. kicks.latentplay")
    export.add_argument("--checkpoint", type=Path, help="default: the run's best checkpoint")
    export.add_argument("--force", action="store_true",
                        help="replace an existing bundle, and export a model that fails the quality check")
    export.add_argument("--no-audio", action="store_true",
                        help="leave the training one-shots out of the bundle (to share it; README, 'What a bundle reveals')")
    export.set_defaults(handler=cmd_export)

    info = commands.add_parser("info", help="summary of a model bundle")
    info.add_argument("bundle", type=Path)
    info.set_defaults(handler=cmd_info)

    plot = commands.add_parser("plot", help="latent map (PCA, by pack) and feature histograms of a bundle")
    plot.add_argument("bundle", type=Path)
    plot.add_argument("--out", type=Path, default=Path("map.png"))
    plot.set_defaults(handler=cmd_plot)

    regen = commands.add_parser("regen", help="regenerate a one-shot from a sample or a WAV, steered by the controls")
    regen.add_argument("bundle", type=Path)
    start = regen.add_mutually_exclusive_group(required=True)
    start.add_argument("--sample", help="a bundle sample: relative path, file stem or index")
    start.add_argument("--wav", type=Path, help="any audio file, projected into the latent space by the encoder")
    for name, unit in CONTROL_UNITS.items():
        regen.add_argument(f"--{name}", type=float, help=f"target {name}{f' ({unit})' if unit else ''}")
    regen.add_argument("--detail", type=float, default=0.0,
                       help="0..1: add the sample's own residual (original - reconstruction), as the plugin's Detail")
    regen.add_argument("--out", type=Path, required=True)
    regen.set_defaults(handler=cmd_regen)

    evaluate = commands.add_parser("eval", help="reconstruction and control accuracy of a bundle")
    evaluate.add_argument("bundle", type=Path)
    evaluate.add_argument("--data", type=Path, action="append", required=True,
                          help="a data folder, trained on or not; repeat it (give the training folder too: "
                               "it holds the nearest-other baseline)")
    evaluate.add_argument("--json", type=Path, help="also write the full report as JSON")
    evaluate.add_argument("--sweep-samples", type=int, default=8)
    evaluate.add_argument("--detail", type=float, default=0.0,
                          help="sweep the controls with the plugin's Detail at this value (0..1)")
    evaluate.add_argument("--targets", action="store_true",
                          help="also print the real-kick benchmark's targets, met or missed (docs/training.md)")
    evaluate.set_defaults(handler=cmd_eval)

    render = commands.add_parser("render", help="render a MIDI file through the built VST3 (offline, as a DAW bounce)")
    render.add_argument("--midi", type=Path, required=True)
    render.add_argument("--bundle", type=Path, help="default: presets/demo.latentplay")
    render.add_argument("--preset", type=Path, help="a preset JSON (presets/factory/*.json)")
    render.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter in its units, e.g. --set frequency=55 --set attack=3")
    render.add_argument("--automate", action="append", default=[], metavar="NAME=FROM:TO[@START:END]",
                        help="ramp a parameter across the clip (or the fraction START..END of it); "
                             "FROM/TO may be min or max")
    render.add_argument("--detail", type=float, help="the plugin's Detail, 0..1 (the same as --set detail=...)")
    render.add_argument("--wav", type=Path, help="start from any audio file instead of a bundle sample")
    render.add_argument("--sr", type=int, default=48000)
    render.add_argument("--out", type=Path, required=True)
    render.add_argument("--plot", type=Path, help="also draw waveform, spectrogram and the latent path")
    render.add_argument("--plugin", type=Path, help="the LatentPlay.vst3 to host (default: $LATENTPLAY_VST3, "
                        "~/.vst3, /usr/local/lib/vst3, /usr/lib/vst3, then the build folder)")
    render.set_defaults(handler=cmd_render)

    expand = commands.add_parser("expand", help="grow a new sample pack: variations of samples over the controls")
    expand.add_argument("bundle", type=Path)
    expand.add_argument("--out", type=Path, required=True)
    expand.add_argument("--samples", nargs="*", default=[], help="sample names (default: --count spread evenly)")
    expand.add_argument("--count", type=int, default=4)
    expand.add_argument("--grid", action="append", default=[], metavar="CONTROL=FROM:TO:STEPS")
    expand.add_argument("--random", type=int, default=0, metavar="STEPS", help="random-walk steps per sample")
    expand.add_argument("--spread", type=float, default=0.1, help="random step, as a fraction of each range")
    expand.add_argument("--seed", type=int, default=0)
    expand.add_argument("--sr", type=int, help="output rate (default: the model's)")
    expand.set_defaults(handler=cmd_expand)

    bench = commands.add_parser("bench", help="time one regeneration: C++ engine vs Python TorchScript vs eager")
    bench.add_argument("--bundle", type=Path, action="append", default=[], help="also time this bundle")
    bench.add_argument("--configs", nargs="*", default=["demo", "seed"],
                       help="configs to time as untrained bundles (default: demo seed)")
    bench.add_argument("--runs", type=int, default=30, help="timed runs per figure (>= 20 recommended)")
    bench.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    bench.add_argument("--worker-runs", type=int, default=5,
                       help="timed runs per worker-throughput figure (each renders 24 keys or 8 variations; 0 = skip)")
    bench.set_defaults(handler=cmd_bench)

    bench_train = commands.add_parser("bench-train", help="time training: one-shots/s, s/epoch, memory, FLOP/s, "
                                                          "device-resident pipeline vs the per-fetch one")
    bench_train.add_argument("--configs", nargs="+", default=["demo", "seed"], help="default: demo seed")
    bench_train.add_argument("--device", nargs="+", choices=("cpu", "cuda"),
                             help="default: cpu, and cuda when available")
    bench_train.add_argument("--steps", type=int, default=20, help="timed steps per case (default 20)")
    bench_train.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    bench_train.add_argument("--pack-size", type=int, default=64, help="procedural kicks (default 64)")
    bench_train.add_argument("--pipelines", nargs="+", choices=("dataset", "device"), default=["dataset", "device"])
    bench_train.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    bench_train.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                             help="config override for every case, e.g. --set data.pitch_shift_semitones=12")
    bench_train.set_defaults(handler=cmd_bench_train)
    return parser


def cmd_synth_pack(args) -> int:
    from latentplay.synth import write_pack

    manifest = write_pack(args.out, n=args.n, seed=args.seed)
    print(f"Wrote {args.n} kicks to {args.out} (manifest: {manifest})")
    return 0


def cmd_kits(args) -> int:
    from latentplay.kits import HELD_OUT_KITS, build_benchmark, summary_lines

    manifest, notes = build_benchmark(args.out, tuple(args.instruments))
    for note in notes:
        print(f"note: {note}")
    print(f"Wrote {len(manifest)} one-shots to {args.out}/INSTRUMENT/SPLIT/KIT/ "
          f"(held-out kits: {', '.join(HELD_OUT_KITS)}):")
    print("\n".join(summary_lines(manifest)))
    return 0


def cmd_scan(args) -> int:
    from latentplay.dataset import load_pack_tree
    from latentplay.features import FEATURE_NAMES, FEATURE_UNITS, measure_features
    from latentplay.training.config import load_config

    prep = load_config(args.config).data.prep()
    pack = load_pack_tree(args.data, prep, progress=True)
    print(pack.summary())
    cropped = pack.cropped_count()
    print(f"{cropped} of {len(pack.samples)} one-shots ({100 * cropped / len(pack.samples):.0f} %) are longer than "
          f"{1000 * prep.duration_s:.0f} ms after the onset and are cropped")
    feature_columns = " ".join(f"{n} ({u})".rjust(15) for n, u in zip(FEATURE_NAMES, FEATURE_UNITS))
    print(f"{'rate':>6s} {'subtype':>14s} {'channels':>8s} {feature_columns}  file")
    for sample, audio in zip(pack.samples, pack.audio):
        values = measure_features(audio, prep.sample_rate).as_array()
        source = sample.source
        print(f"{source.sample_rate:6d} {source.subtype:>14s} {source.channels:8d} "
              + " ".join(f"{v:15.1f}" for v in values) + f"  {sample.ref.path}")
    return 0


def cmd_model(args) -> int:
    from latentplay.model import AutoEncoder, decoder_macs, parameter_count
    from latentplay.training.config import load_config

    config = load_config(args.config)
    length = config.data.prep().num_samples
    model = AutoEncoder(config.model, length)
    print(f"config {args.config}: input {length} samples at {config.data.sr} Hz "
          f"(padded to {config.model.padded_length(length)}) -> latent {model.latent_dim} -> output {length}")
    print(f"parameters: encoder {parameter_count(model.encoder):,}, decoder {parameter_count(model.decoder):,}, "
          f"feature head {parameter_count(model.feature_head):,}, total {parameter_count(model):,}")
    print(f"decoder: {decoder_macs(config.model, length) / 1e9:.3f} GMAC per one-shot")
    return 0


def cmd_train(args) -> int:
    from latentplay.training.config import load_config
    from latentplay.training.train import run_training

    overrides = list(args.set)
    for option, key in (("max_epochs", "max_epochs"), ("max_minutes", "max_minutes"),
                        ("accelerator", "accelerator"), ("devices", "devices"), ("num_nodes", "num_nodes"),
                        ("strategy", "strategy"), ("precision", "precision")):
        value = getattr(args, option)
        if value is not None:
            overrides.append(f"training.{key}={value}")
    config = load_config(args.config, overrides)
    summary = run_training(args.data, config, args.out, logger_kind=args.logger, resume=args.resume)
    from lightning.pytorch.utilities import rank_zero_only

    if rank_zero_only.rank != 0:  # DDP: the other ranks trained too, rank 0 speaks for them
        return 0
    print(f"Run written to {args.out.resolve()}")
    print(f"  best checkpoint: {summary['best_checkpoint']} ({summary['monitor']} = {summary['best_score']})")
    print(f"  {summary['epochs']} epochs in {summary['seconds']:.0f} s; examples in {args.out / 'examples'}")
    return 0


def cmd_export(args) -> int:
    from latentplay.export.exporter import export_bundle

    out = export_bundle(args.run, args.data, args.out, checkpoint=args.checkpoint, force=args.force,
                        audio=not args.no_audio)
    print(f"Bundle written and verified: {out}")
    return cmd_info(argparse.Namespace(bundle=out))


def cmd_info(args) -> int:
    from latentplay.bundle import load_bundle

    bundle = load_bundle(args.bundle)
    counts = {pack: sum(s.pack == pack for s in bundle.samples) for pack in bundle.packs}
    print(f"{bundle.path}")
    print(f"  model id    {bundle.model_id}")
    print(f"  audio       {bundle.length} samples at {bundle.sample_rate} Hz "
          f"({1000 * bundle.length / bundle.sample_rate:.0f} ms), latent {bundle.latent_dim}")
    print("  packs       " + ", ".join(f"{pack} ({count})" for pack, count in counts.items()))
    if bundle.has_originals:
        size = (bundle.path / bundle.sidecar["files"]["originals"]["path"]).stat().st_size
        print(f"  originals   inside: {len(bundle.samples)} prepared one-shots ({size / 1e6:.1f} MB, float32)")
    else:
        print("  originals   not inside (exported with --no-audio, or an older bundle): Mix and Detail "
              "use the model's reconstruction")
    producer = bundle.sidecar["producer"]
    upgraded = (f" (stored as schema {bundle.stored_schema_version}, upgraded on reading)"
                if bundle.stored_schema_version != bundle.sidecar["schema_version"] else "")
    print(f"  format      schema {bundle.sidecar['schema_version']}{upgraded}; {producer['model_format']} "
          f"from latentplay {producer['latentplay']}, torch {producer['torch']}")
    quality = bundle.sidecar["training"]["metrics"].get("quality")
    if quality:  # the collapse check export ran (latentplay.quality)
        verdict = "OK" if quality["ok"] else "FAILED (exported with --force): " + "; ".join(quality["problems"])
        baseline = ("no baseline (one one-shot)" if quality["baseline_median"] is None
                    else f"nearest other {quality['baseline_median']:.3f}")
        print(f"  quality     {verdict}; MR-STFT {quality['mrstft_median']:.3f} vs {baseline} "
              f"on its training one-shots")
    print("  controls")
    for control in bundle.controls:
        quality = f"R² fit {control.r2['fit']:.2f}, cv {control.r2['cv']:.2f}" if control.r2 else "PCA"
        unit = f" {control.unit}" if control.unit else ""
        print(f"    {control.label:10s} {control.minimum:9.2f} .. {control.maximum:9.2f}{unit:4s} {quality}")
    return 0


def cmd_plot(args) -> int:
    from latentplay.bundle import load_bundle
    from latentplay.plot import plot_bundle

    print(f"Wrote {plot_bundle(load_bundle(args.bundle), args.out)}")
    return 0


def cmd_regen(args) -> int:
    import numpy as np

    from latentplay import _engine
    from latentplay.audio import UnusableAudio, read_audio, write_wav
    from latentplay.bundle import load_bundle

    if not 0.0 <= args.detail <= 1.0:
        raise ValueError(f"--detail {args.detail}: expected 0..1")
    bundle = load_bundle(args.bundle)
    engine = _engine.Engine(str(args.bundle))  # the plugin's code: prepare, encode, project, decode, Detail
    if args.wav:
        try:
            frames, rate, _ = read_audio(args.wav)
            start = engine.start_from_audio(frames.astype(np.float32), rate)
        except (UnusableAudio, _engine.UnusableAudio) as error:
            raise ValueError(f"{args.wav}: {error}") from None
        latent = start.latent
    else:
        start = bundle.find_sample(args.sample).index
        latent = bundle.samples[start].latent
    asked = {name: getattr(args, name) for name in CONTROL_UNITS if getattr(args, name) is not None}
    own = engine.own_controls(latent)
    audio = engine.regenerate(start, asked, 0.0, args.detail)
    write_wav(args.out, audio, bundle.sample_rate)
    for name, unit in CONTROL_UNITS.items():
        target = asked.get(name, own[name])
        print(f"  {name:10s} {own[name]:9.2f} -> {target:9.2f} {unit}")
    detail = f", Detail {args.detail:g}" if args.detail else ""
    print(f"Wrote {args.out} ({len(audio)} samples at {bundle.sample_rate} Hz{detail})")
    if args.detail and not args.wav and not engine.has_originals:
        print("  (this bundle holds no audio: Detail adds nothing)")
    return 0


def cmd_eval(args) -> int:
    from latentplay.evaluate import evaluate_bundle, print_report, print_targets, write_report

    if not 0.0 <= args.detail <= 1.0:
        raise ValueError(f"--detail {args.detail}: expected 0..1")
    report = evaluate_bundle(args.bundle, args.data, sweep_samples=args.sweep_samples, detail=args.detail)
    print_report(report)
    if args.targets:
        print_targets(report)
    if args.json:
        write_report(report, args.json)
        print(f"Wrote {args.json}")
    return 0


def cmd_render(args) -> int:
    from latentplay import host
    from latentplay.audio import write_wav
    from latentplay.midi import read_notes

    bundle = args.bundle or host.DEFAULT_BUNDLE
    notes = read_notes(args.midi)
    settings = host.load_preset(args.preset) if args.preset else {}
    settings.update(host.parse_settings(args.set))
    if args.detail is not None:
        settings["detail"] = args.detail
    plugin = host.load_instrument(args.plugin, bundle)
    ranges = host.parameter_ranges(plugin)
    automations = [host.Automation.parse(text, ranges) for text in args.automate]
    if args.wav:  # the file is the start (its own control values), then the given settings
        host.load_audio_file(plugin, args.wav, bundle)
        host.apply_settings(plugin, {name: value for name, value in settings.items() if name != "sample"})
    else:
        host.apply_preset(plugin, bundle, settings)
    audio, in_force = host.render_notes(plugin, notes, automations, args.sr)
    write_wav(args.out, audio.T, args.sr)
    print(f"Wrote {args.out} ({audio.shape[1] / args.sr:.2f} s, {len(notes)} notes, {args.sr} Hz, stereo)")
    if args.plot:
        start = host.loaded_latent(plugin) if args.wav else \
            int(round(plugin.parameters["sample"].raw_value * SAMPLE_PARAMETER_STEPS))
        path = host.latent_path(bundle, in_force, start)
        print(f"Wrote {host.plot_render(audio, args.sr, bundle, path, args.plot)}")
    return 0


def cmd_expand(args) -> int:
    from latentplay.expand import GridAxis, expand_pack

    axes = [GridAxis.parse(text) for text in args.grid]
    manifest = expand_pack(args.bundle, args.out, args.samples, args.count, axes, args.random, args.spread,
                           args.seed, args.sr)
    print(f"Wrote the variations and {manifest} (and manifest.json) under {args.out}")
    return 0


def cmd_bench(args) -> int:
    from latentplay.bench import run_bench

    run_bench(args.bundle, args.runs, args.threads, args.configs, args.worker_runs)
    return 0


def cmd_bench_train(args) -> int:
    from latentplay.training.bench_train import run_bench_train

    run_bench_train(args.configs, args.device, args.steps, args.warmup, args.pack_size, args.pipelines,
                    args.set, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
