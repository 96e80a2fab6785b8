"""Surviving interruptions: atomic checkpoint files loaded safely, a checkpoint on SIGTERM or Ctrl-C,
and the random generators' state carried across a resume.

With the data order (`datamodules.resumable`) and Lightning's own optimizer, scheduler and loop
state, a run stopped after any step and resumed with `--ckpt_path last` continues exactly as if it
had never stopped (tests/test_fault_tolerance.py compares the two).
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException

from modules.errors import UserInputError


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoint files written whole or not at all, and read without running pickled code.

    A save goes to a temporary file beside the target, is flushed to disk, then renamed over it
    (`os.replace`, atomic on POSIX and Windows): a crash or a full disk mid-write leaves the previous
    `last.ckpt` as it was. (Lightning's own save commits through fsspec, which writes the temporary
    file under /tmp and moves it: a copy, not an atomic rename, when /tmp is another file system.)
    Loads use `torch.load(weights_only=True)` unless a caller asks otherwise.
    """

    def __init__(self) -> None:
        super().__init__()
        self.last_saved: str | None = None  # named by the non-finite-loss message

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if "://" in str(path):  # remote storage: an object store's upload is already all-or-nothing
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
            folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        self.last_saved = str(path)

    def load_checkpoint(
        self,
        path,
        map_location: Callable | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        weights_only = True if weights_only is None else weights_only
        try:
            return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        except (OSError, EOFError, RuntimeError, pickle.UnpicklingError) as error:
            friendly = unreadable_checkpoint(path, error)
            if friendly is None:
                raise
            raise friendly from None


def unreadable_checkpoint(path, error: BaseException) -> UserInputError | None:
    """The one-line message for a checkpoint torch.load refused, or None for an error of another kind."""
    if isinstance(error, FileNotFoundError):
        return UserInputError(f"checkpoint {path} does not exist")
    if isinstance(error, pickle.UnpicklingError):
        lines = [line.strip() for line in str(error).splitlines() if "Unsupported global" in line]
        detail = f" ({lines[0].split('. ')[0][:160]})" if lines else ""
        return UserInputError(
            f"checkpoint {path} holds Python objects besides tensors and plain data{detail}; lit loads "
            "checkpoints with torch.load(weights_only=True), which will not run the code such objects bring"
        )
    text = str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
    if (
        isinstance(error, (OSError, EOFError))
        or "zip archive" in str(error)
        or "PytorchStreamReader" in str(error)
    ):
        return UserInputError(f"checkpoint {path} cannot be read: the file is truncated or corrupt ({text})")
    return None


def collect_rng_states() -> dict[str, Any]:
    """Python's, numpy's and torch's (CPU and CUDA) generator states, as plain data for weights_only loads."""
    states: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["torch.cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np

        kind, keys, position, has_gauss, gauss = np.random.get_state()
        states["numpy"] = (kind, keys.tolist(), position, has_gauss, gauss)
    except ImportError:
        pass
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    if "torch.cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch.cuda"])
    if "numpy" in states:
        import numpy as np

        kind, keys, position, has_gauss, gauss = states["numpy"]
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))


class RngState(Callback):
    """Carries the random generators across a resume, so dropout masks continue where they stopped.

    Checkpoints hold the states at the moment of saving (after a training step); a resumed run sets
    them right before its first batch, after model loading and anything else that drew numbers.
    With several processes each one gets the saving process's state (not exact, see
    docs/reliability.md).
    """

    def __init__(self) -> None:
        self._pending: dict | None = None

    def state_dict(self) -> dict[str, Any]:
        return collect_rng_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._pending is not None:
            set_rng_states(self._pending)
            self._pending = None


def last_checkpoint_path(trainer) -> Path:
    """Where an interrupted run saves: the first ModelCheckpoint's folder, or default_root_dir/checkpoints."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            return Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
    return Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"


def find_last_checkpoint(trainer) -> Path | None:
    """The newest `last*.ckpt` in this run's folders, for `--ckpt_path last`.

    Lightning looks only in the folder of the current logger version; a logger gives each run a new,
    empty folder (W&B: runs/NAME/lit/RUN_ID/checkpoints; CSVLogger: .../version_N/checkpoints), so a
    resume would silently start from scratch. This also looks in the earlier runs' folders.
    """
    roots = {Path(trainer.default_root_dir)}
    roots |= {Path(logger.save_dir) for logger in trainer.loggers if getattr(logger, "save_dir", None)}
    roots |= {Path(c.dirpath) for c in trainer.checkpoint_callbacks if getattr(c, "dirpath", None)}
    patterns = [
        "last*.ckpt",
        "checkpoints/last*.ckpt",
        "*/checkpoints/last*.ckpt",
        "*/*/checkpoints/last*.ckpt",
    ]
    # A folder too: DeepSpeed's checkpoints are folders (each process's shard of the optimizer state).
    found = {path for root in roots for pattern in patterns for path in root.glob(pattern) if path.exists()}
    return max(found, key=written_at) if found else None


def written_at(path: Path) -> float:
    """When a checkpoint was last written: a file's time, or a folder's newest file's (a folder's own time
    changes only when entries are added or removed, not when DeepSpeed writes over them)."""
    if path.is_dir():
        return max((p.stat().st_mtime for p in path.rglob("*") if p.is_file()), default=path.stat().st_mtime)
    return path.stat().st_mtime


def adopt_last_checkpoint(trainer, path: Path) -> None:
    """Tell each `ModelCheckpoint(save_last=True)` writing into `path`'s folder that `path` is its last
    checkpoint: it then writes over `path` when it saves its own last, instead of finding the file
    taken and writing `last-v1.ckpt` beside it (a second "last" that goes stale)."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.save_last and callback.dirpath:
            own = callback.format_checkpoint_name({}, callback.CHECKPOINT_NAME_LAST)
            if Path(own) == path:
                callback.last_model_path = own  # the string Lightning compares with, as it formats it


class LastCheckpoint(Callback):
    """`last.ckpt` is the last state: written before every evaluation during `fit` and at its end.

    Lightning 2.6's `ModelCheckpoint(save_last=True)` beside a monitor writes `last.ckpt` only when
    a new best is saved, so after a run whose last validation is not its best, `last` was an older
    step. Here it is written (atomically, by lit's Trainer's checkpoint writer) whatever the
    monitor says; and before the evaluation, so an evaluation that fails (out of memory, javac
    missing, a bug) costs the evaluation, not the training: the message says which file holds it.
    """

    def __init__(self) -> None:
        self.evaluating_at: int | None = None  # the step whose evaluation is running in fit

    def _save(self, trainer) -> Path | None:
        if trainer.fast_dev_run or trainer.global_step == 0:  # smoke runs write nothing; nothing trained yet
            return None
        path = last_checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        adopt_last_checkpoint(trainer, path)
        return path

    def on_validation_start(self, trainer, pl_module) -> None:
        if trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking:
            self._save(trainer)
            self.evaluating_at = trainer.global_step

    def on_validation_end(self, trainer, pl_module) -> None:
        self.evaluating_at = None

    def on_train_end(self, trainer, pl_module) -> None:
        self._save(trainer)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if self.evaluating_at is None or isinstance(exception, (KeyboardInterrupt, SIGTERMException)):
            return
        path = last_checkpoint_path(trainer)
        rank_zero_info(
            f"lit: the evaluation after step {self.evaluating_at} failed ({type(exception).__name__}: "
            f"{exception}); "
            f"the training up to that step is saved in {path}. Fix the cause, then resume with the same "
            "command plus --ckpt_path last"
        )


class SaveOnInterrupt(Callback):
    """SIGTERM or Ctrl-C during `fit`: finish the current batch, save `last.ckpt`, say how to resume, exit.

    The run stops between batches (Lightning's SIGTERM path; Ctrl-C is turned into it), so the
    checkpoint holds the state an uninterrupted run has after that step. The exit status is 128 plus
    the signal number (143 for SIGTERM, 130 for Ctrl-C): a wrapper can tell an interrupted run from a
    finished one (0) and an error (1). A second Ctrl-C stops at once and saves nothing (the state may
    be half-way through a step); the checkpoints written before stay.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self.previous_sigint = None  # the SIGINT handler before fit, put back when fit ends

    def on_train_start(self, trainer, pl_module) -> None:
        # Lightning registers its SIGTERM handler just before training and puts SIGTERM's previous
        # handler back when fit ends; SIGINT's is put back here (`teardown`), whatever it was: a
        # shell's background job starts with SIGINT ignored, and it must stay so after fit.
        if threading.current_thread() is not threading.main_thread():
            return
        self.signal = None
        self.previous_sigint = signal.getsignal(signal.SIGINT)
        lightning_sigterm = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum, frame):
            self.signal = self.signal or signum
            if callable(lightning_sigterm):
                lightning_sigterm(signum, frame)  # sets trainer.received_sigterm: stop after this batch

        def on_sigint(signum, frame):
            self.signal = signal.SIGINT
            signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C interrupts at once
            on_sigterm(signal.SIGTERM, frame)

        signal.signal(signal.SIGTERM, on_sigterm)
        signal.signal(signal.SIGINT, on_sigint)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self.previous_sigint is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self.previous_sigint)
            self.previous_sigint = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            which = "a second Ctrl-C" if self.signal == signal.SIGINT else "Ctrl-C"
            rank_zero_info(
                f"lit: stopped at once by {which}; no checkpoint for this point, earlier ones are kept"
            )
            return
        if (
            not isinstance(exception, SIGTERMException)
            or trainer.state.fn != TrainerFn.FITTING
            or trainer.sanity_checking
        ):
            return
        name = (
            "Ctrl-C (SIGINT)"
            if self.signal == signal.SIGINT
            else signal.Signals(self.signal or signal.SIGTERM).name
        )
        path = last_checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        exception.code = 128 + (self.signal or signal.SIGTERM)  # SystemExit's status once it leaves `fit`
        rank_zero_info(  # `lit fit` finds this file for `last` (find_last_checkpoint)
            f"lit: {name} received: stopped after step {trainer.global_step} (epoch {trainer.current_epoch}) "
            f"and saved {path}. Resume with the same command plus --ckpt_path last"
        )
