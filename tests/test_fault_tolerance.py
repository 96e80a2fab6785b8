"""Fault tolerance and bad input: exact resume, interruption, non-finite loss, pre-flight, safe loading."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from lit.cli import cli_main
from lit.fault_tolerance import AtomicCheckpointIO
from modules.causal_lm import CausalLM
from modules.errors import UserInputError
from tests.helpers import TINY_MISTRAL
from tests.helpers.precision import PRECISIONS
from tests.helpers.tiny_runs import MODES, logged_loss_and_lr, tiny_run_args

pytestmark = pytest.mark.usefixtures("one_thread")  # the same thread count in every compared run


def _signal_at(monkeypatch, step: int, signum: int, times: int = 1) -> None:
    """Send this process `signum` when training has done `step` steps (as a user or a scheduler would)."""

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.global_step == step:
            for _ in range(times):
                os.kill(os.getpid(), signum)

    monkeypatch.setattr(CausalLM, "on_train_batch_end", on_train_batch_end)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("mode", list(MODES))
def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(mode, precision, tmp_path, monkeypatch):
    extra = [*MODES[mode], "--trainer.precision", precision]
    cli_main(tiny_run_args(tmp_path, "straight", "run", *extra))
    with monkeypatch.context() as patch:
        _signal_at(patch, 4, signal.SIGTERM)  # after 4 of 6 steps: mid-way through the second epoch
        with pytest.raises(SystemExit) as stop:
            cli_main(tiny_run_args(tmp_path, "resumed", "first", *extra))
    assert stop.value.code == 128 + signal.SIGTERM
    saved = torch.load(tmp_path / "resumed" / "first" / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 4
    assert saved["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"seed": 0, "epoch": 1, "batches": 1}
    ]
    resumed = cli_main(tiny_run_args(tmp_path, "resumed", "second", *extra, "--ckpt_path", "last"))
    assert resumed.trainer.global_step == 6

    straight = logged_loss_and_lr(tmp_path, "straight", "run")
    pieces = {
        **logged_loss_and_lr(tmp_path, "resumed", "first"),
        **logged_loss_and_lr(tmp_path, "resumed", "second"),
    }
    assert sorted(straight) == sorted(pieces) == list(range(6))
    for step in straight:  # the same batches, dropout masks and learning rates, step by step
        assert pieces[step][0] == pytest.approx(straight[step][0], abs=1e-6), step
        assert pieces[step][1] == pytest.approx(straight[step][1], rel=1e-9), step
    a = torch.load(tmp_path / "straight" / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "second" / "checkpoints" / "last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 6 and set(a["state_dict"]) == set(b["state_dict"])
    for key, value in a["state_dict"].items():
        assert torch.allclose(value.float(), b["state_dict"][key].float(), atol=1e-6, rtol=0), key
    for x, y in zip(a["optimizer_states"][0]["state"].values(), b["optimizer_states"][0]["state"].values()):
        assert torch.allclose(x["exp_avg_sq"], y["exp_avg_sq"], atol=1e-9, rtol=0)
    assert a["lr_schedulers"] == b["lr_schedulers"]


def test_sigterm_to_a_running_fit_leaves_a_checkpoint_that_resumes(tmp_path):
    root = tmp_path / "run"
    args = tiny_run_args(tmp_path, "run", "v", "--trainer.max_epochs", "1000", every_step=True)
    log = tmp_path / "stderr.txt"
    last = root / "v" / "checkpoints" / "last.ckpt"
    with open(log, "w", encoding="utf-8") as err:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "lit", *args], stdout=subprocess.DEVNULL, stderr=err, env=env
        )
        try:
            deadline = time.monotonic() + 240
            while not last.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)  # training has begun once the first step's checkpoint exists
            assert last.exists(), log.read_text(encoding="utf-8")[-3000:]
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    stderr = log.read_text(encoding="utf-8")
    assert code == 128 + signal.SIGTERM, stderr[-3000:]
    assert "lit: SIGTERM received: stopped after step" in stderr and "--ckpt_path last" in stderr
    assert "Traceback" not in stderr
    assert not list(last.parent.glob(".*.tmp"))  # no half-written file left behind
    step = torch.load(last, weights_only=True)["global_step"]
    assert step >= 1
    # The same command plus --ckpt_path last (and a step limit, to end the test), as the message says.
    resumed = cli_main(
        args + ["--trainer.logger.version", "w", "--trainer.max_steps", str(step + 2), "--ckpt_path", "last"]
    )
    assert resumed.trainer.ckpt_path == str(last)
    assert resumed.trainer.global_step == step + 2


@pytest.fixture
def sigint_before(request):
    """SIGINT's handler when fit starts: Python's from a terminal; ignored in a shell's background job."""
    outer = signal.signal(signal.SIGINT, request.param)
    yield request.param
    signal.signal(signal.SIGINT, outer)


@pytest.mark.parametrize(
    "presses, sigint_before",
    [(1, signal.default_int_handler), (2, signal.SIG_IGN)],
    indirect=["sigint_before"],
)
def test_ctrl_c_saves_a_checkpoint_and_a_second_one_stops_at_once(
    presses, sigint_before, tmp_path, monkeypatch, caplog
):
    _signal_at(monkeypatch, 2, signal.SIGINT, times=presses)
    with caplog.at_level("INFO"), pytest.raises(SystemExit) as stop:
        cli_main(tiny_run_args(tmp_path, "run", "v", *MODES["full"]))
    last = tmp_path / "run" / "v" / "checkpoints" / "last.ckpt"
    if presses == 1:  # stops after the batch, saves, exits 130 like a shell's Ctrl-C
        assert stop.value.code == 128 + signal.SIGINT
        assert torch.load(last, weights_only=True)["global_step"] == 2
        assert (
            f"lit: Ctrl-C (SIGINT) received: stopped after step 2 (epoch 0) and saved {last}" in caplog.text
        )
    else:  # the second press interrupts at once: no checkpoint of a half-done step
        assert stop.value.code == 1
        assert not last.exists()
        assert "lit: stopped at once by a second Ctrl-C" in caplog.text
    assert signal.getsignal(signal.SIGINT) is sigint_before  # the handler does not outlive fit


def test_a_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 1, "w": torch.ones(3)}, path)

    def save_half_then_fail(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"global_step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert io.load_checkpoint(path)["global_step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


class Payload:  # any class: unpickling it would run code named by the file
    pass


def test_checkpoints_load_with_weights_only_and_bad_files_say_why(tmp_path, monkeypatch):
    from lit.trainer import Trainer

    assert isinstance(Trainer(accelerator="cpu", logger=False).strategy.checkpoint_io, AtomicCheckpointIO)
    io = AtomicCheckpointIO()
    torch.save({"state_dict": {}, "extra": Payload()}, tmp_path / "pickled.ckpt")
    with pytest.raises(
        UserInputError,
        match=r"holds Python objects besides tensors and plain data \(.*Payload.*\); "
        r"lit loads checkpoints with torch.load\(weights_only=True\)",
    ):
        io.load_checkpoint(tmp_path / "pickled.ckpt")
    io.save_checkpoint({"state_dict": {"w": torch.ones(1000)}}, tmp_path / "good.ckpt")
    data = (tmp_path / "good.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserInputError, match="cut.ckpt cannot be read: the file is truncated or corrupt"):
        io.load_checkpoint(tmp_path / "cut.ckpt")
    with pytest.raises(UserInputError, match="does not exist"):
        io.load_checkpoint(tmp_path / "none.ckpt")
    # `--ckpt_path` with either bad file: one line, before any model loads
    from lit.cli import main

    for name, says in (
        ("cut.ckpt", "cannot be read: the file is truncated"),
        ("pickled.ckpt", "holds Python objects"),
    ):
        argv = [
            "lit",
            "fit",
            "--config",
            "configs/tiny/sums.yaml",
            "--ckpt_path",
            str(tmp_path / name),
            "--trainer.default_root_dir",
            str(tmp_path),
        ]
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as stop:
            main()
        assert str(stop.value.code).startswith(f"lit: error: checkpoint {tmp_path / name} {says}")


LAST_NOT_BEST = """
trainer:
  max_steps: 12
  val_check_interval: 4
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args: {monitor: val/loss, mode: max, save_last: true}  # the first validation stays the best
data:
  init_args: {num_val_examples: 4, eval_batch_size: 4}
"""


def _last_not_best_args(tmp_path, *extra: str) -> list[str]:
    overlay = tmp_path / "last_not_best.yaml"
    overlay.write_text(LAST_NOT_BEST, encoding="utf-8")
    return [
        "fit",
        "--config",
        "configs/embedded/sums.yaml",
        "--config",
        str(overlay),
        "--model.init_args.model",
        TINY_MISTRAL,
        "--model.init_args.max_new_tokens",
        "4",
        "--trainer.default_root_dir",
        str(tmp_path),
        *extra,
    ]


def test_last_checkpoint_holds_the_last_step_when_the_last_validation_is_not_the_best(tmp_path):
    """The issue's reproduction: Lightning 2.6 alone leaves last.ckpt at step 4 of 12."""
    cli = cli_main(_last_not_best_args(tmp_path))
    callback = cli.trainer.checkpoint_callback
    assert torch.load(callback.best_model_path, weights_only=True)["global_step"] == 4  # best is not last
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 12
    # One last checkpoint: ModelCheckpoint's own save_last writes over it, not a stale last-v1.ckpt beside it.
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("last*")) == ["last.ckpt"]


def test_a_failing_evaluation_leaves_the_trained_state_on_disk_and_resumable(tmp_path, monkeypatch, caplog):
    def failing_step(self, batch, batch_idx, dataloader_idx=0):
        if self.global_step == 8:
            raise RuntimeError("injected evaluation failure")
        return original(self, batch, batch_idx, dataloader_idx)

    original = CausalLM.validation_step
    last = tmp_path / "checkpoints" / "last.ckpt"
    with (
        monkeypatch.context() as patch,
        caplog.at_level("INFO"),
        pytest.raises(RuntimeError, match="injected"),
    ):
        patch.setattr(CausalLM, "validation_step", failing_step)
        cli_main(_last_not_best_args(tmp_path))
    assert (
        torch.load(last, weights_only=True)["global_step"] == 8
    )  # the 4 steps since the last validation kept
    assert (
        "the evaluation after step 8 failed (RuntimeError: injected evaluation failure); the training up to "
        f"that step is saved in {last}" in caplog.text
    )
    resumed = cli_main(_last_not_best_args(tmp_path, "--ckpt_path", "last"))
    assert resumed.trainer.global_step == 12
    assert torch.load(last, weights_only=True)["global_step"] == 12


def test_ckpt_path_last_finds_the_newest_checkpoint_a_folder_included(tmp_path):
    """DeepSpeed writes folders, and over the files of an existing one: the folder's own time stays old."""
    from types import SimpleNamespace

    from lit.fault_tolerance import find_last_checkpoint

    folder = tmp_path / "checkpoints" / "last.ckpt"
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "checkpoint" / "mp_rank_00_model_states.pt").write_bytes(b"old")
    other = tmp_path / "checkpoints" / "last-v1.ckpt"
    other.write_bytes(b"file")
    now = time.time()
    os.utime(folder, (now - 100, now - 100))
    os.utime(other, (now - 50, now - 50))
    trainer = SimpleNamespace(default_root_dir=str(tmp_path), loggers=[], checkpoint_callbacks=[])
    os.utime(folder / "checkpoint" / "mp_rank_00_model_states.pt", (now - 200, now - 200))
    assert find_last_checkpoint(trainer) == other
    os.utime(folder / "checkpoint" / "mp_rank_00_model_states.pt", (now, now))  # written over, last
    assert find_last_checkpoint(trainer) == folder
