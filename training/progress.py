"""What a training run tells the person who started it, whatever the logger and the terminal:

- ``RUN/metrics.csv``: one row per epoch (every logged epoch metric, the elapsed seconds), and
  ``RUN/loss-curve.png`` drawn from it at the end;
- progress lines on stdout when it is not a terminal (Lightning's bar needs one);
- why the run stopped: early stopping, the time budget, or max_epochs (once, at the end);
- the time budget itself (``TimeBudget``): a hard limit, which min_epochs does not override.
"""

from __future__ import annotations

import csv
import logging
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, Timer
from lightning.pytorch.utilities import rank_zero_only

from latentplay.plot import save_figure

PROGRESS_INTERVAL_S = 30.0  # a progress line at most this often (and at the first epoch)
CURVE_METRICS = ("train/loss", "train/stft", "val/loss", "val/mrstft")


def epoch_metrics(trainer: L.Trainer) -> dict[str, float]:
    return {name: float(value) for name, value in sorted(trainer.callback_metrics.items())
            if value.numel() == 1}


class MetricsHistory(L.Callback):
    """Appends every epoch's metrics to metrics.csv; draws loss-curve.png when training ends."""

    def __init__(self, run_dir: Path) -> None:
        self.csv_path = run_dir / "metrics.csv"
        self.plot_path = run_dir / "loss-curve.png"
        self.rows: list[dict[str, float]] = []
        self.started = time.monotonic()

    @rank_zero_only
    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        """A resumed run keeps the rows of the epochs it resumes after (a fresh one starts over);
        its seconds go on from the last kept row's."""
        self.rows = read_rows(self.csv_path, before_epoch=trainer.current_epoch) if trainer.current_epoch > 0 else []
        if self.rows:
            self.started = time.monotonic() - self.rows[-1].get("seconds", 0.0)

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.rows.append({"epoch": trainer.current_epoch, "seconds": round(time.monotonic() - self.started, 2),
                          **epoch_metrics(trainer)})
        columns = list(dict.fromkeys(key for row in self.rows for key in row))
        # Rewritten whole (a new metric may appear late), then renamed over the old file: a run
        # killed meanwhile keeps the previous rows for its resume.
        partial = self.csv_path.with_name(f".{self.csv_path.name}.partial")
        with open(partial, "w", newline="") as file:
            writer = csv.DictWriter(file, columns)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(partial, self.csv_path)

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.rows:
            plot_loss_curve(self.rows, self.plot_path)


def read_rows(path: Path, before_epoch: int) -> list[dict[str, float]]:
    """metrics.csv's rows of the epochs before ``before_epoch`` (none if there is no file)."""
    if not path.is_file():
        return []
    with open(path, newline="") as file:
        rows = [{key: float(value) for key, value in row.items() if value not in ("", None)}
                for row in csv.DictReader(file)]
    return [{**row, "epoch": int(row["epoch"])} for row in rows if "epoch" in row and row["epoch"] < before_epoch]


def plot_loss_curve(rows: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    epochs = [row["epoch"] for row in rows]
    for name in CURVE_METRICS:
        values = [row.get(name, float("nan")) for row in rows]
        if any(value == value for value in values):
            axis.plot(epochs, values, label=name, linewidth=1)
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title("losses (val/mrstft: plain reconstruction, watched by early stopping)", fontsize=9)
    save_figure(figure, path, dpi=90)


class ProgressLines(L.Callback):
    """One line every PROGRESS_INTERVAL_S on stdout, for logs and pipes where no bar shows."""

    def __init__(self, monitor: str, interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self.monitor = monitor
        self.interval_s = interval_s
        self.started = time.monotonic()
        self.last_line = -float("inf")

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        now = time.monotonic()
        if now - self.last_line < self.interval_s:
            return
        self.last_line = now
        metrics = epoch_metrics(trainer)
        shown = " ".join(f"{name} {metrics[name]:.4g}" for name in ("train/loss", self.monitor) if name in metrics)
        print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}  {now - self.started:6.0f} s  {shown}",
              flush=True)


def progress_callbacks(run_dir: Path, monitor: str, show_lines: bool | None = None) -> list[L.Callback]:
    """metrics.csv + loss curve always; progress lines when stdout is not a terminal."""
    show_lines = not sys.stdout.isatty() if show_lines is None else show_lines
    return [MetricsHistory(run_dir)] + ([ProgressLines(monitor)] if show_lines else [])


class TimeBudget(Timer):
    """``training.max_minutes`` (``--max-minutes``) as a hard budget: once the training time is
    spent (across resumes: the elapsed time is saved in checkpoints) the run stops after the
    current step, even before min_epochs (Lightning's own ``max_time`` lets min_epochs win and
    prints "Time limit reached" after every further step). It prints nothing: the run's closing
    line (``stop_reason``) names the budget, once. All ranks stop at the same step (rank 0's
    clock decides)."""

    def __init__(self, minutes: float) -> None:
        super().__init__(duration=timedelta(minutes=minutes), interval="step", verbose=False)

    def on_fit_start(self, trainer: L.Trainer, *args, **kwargs) -> None:
        self.stop_if_spent(trainer)  # a resumed run may have nothing left

    def on_train_batch_end(self, trainer: L.Trainer, *args, **kwargs) -> None:
        self.stop_if_spent(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, *args, **kwargs) -> None:
        pass  # checked every step

    def stop_if_spent(self, trainer: L.Trainer) -> None:
        remaining = self.time_remaining("train")
        if not trainer.strategy.broadcast(remaining is not None and remaining <= 0):
            return
        trainer.should_stop = True
        trainer.fit_loop.min_epochs = 0  # the budget wins over min_epochs / min_steps
        trainer.fit_loop.epoch_loop.min_steps = 0


class _WithoutFitStoppedLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("`Trainer.fit` stopped:")


def quiet_lightning_stop_lines() -> None:
    """Drops Lightning's "`Trainer.fit` stopped: ..." info line: the run's own closing line
    ("Stopped after N epochs (...): <stop_reason>") says why, once, whatever stopped it."""
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(existing, _WithoutFitStoppedLines) for existing in logger.filters):
        logger.addFilter(_WithoutFitStoppedLines())


def stop_reason(trainer: L.Trainer) -> str:
    """Why fit() returned, in words."""
    for callback in trainer.callbacks:
        if isinstance(callback, EarlyStopping) and callback.stopped_epoch > 0:
            best = float(callback.best_score)
            return (f"early stopping: {callback.monitor} did not improve for {callback.patience} epochs "
                    f"(best {best:.4g})")
    for callback in trainer.callbacks:
        if isinstance(callback, Timer) and callback.time_remaining("train") is not None \
                and callback.time_remaining("train") <= 0:
            return f"time budget reached ({callback.time_elapsed('train') / 60:.1f} min)"
    if trainer.max_epochs is not None and trainer.current_epoch >= trainer.max_epochs:
        return f"max_epochs reached ({trainer.max_epochs})"
    return "interrupted"
