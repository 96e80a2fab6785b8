"""Fault tolerance and bad input: exact resume, interruption, non-finite loss, pre-flight, safe loading."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from datamodules.records import DataError, read_examples
from datamodules.sums import SumsDataModule
from lit.cli import cli_main
from lit.fault_tolerance import AtomicCheckpointIO
from modules.causal_lm import CausalLM
from modules.errors import NonFiniteLossError, UserInputError
from tests.conftest import TINY_MISTRAL
from tests.precision import PRECISIONS


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: a second CPU thread only adds synchronisation (measured 30x slower per step on a
    busy 2-core machine). Every run in a comparison uses the same setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


MODES = {
    "lora": ["--model.init_args.quantization", "null"],
    "4bit+lora": [],  # configs/tiny/sums.yaml as it is
    "full": ["--model.init_args.quantization", "null", "--model.init_args.lora", "null"],
}
# 12 examples in batches of 4: 3 steps an epoch, 6 in all; a step-wise scheduler, so its state matters too.
OVERLAY = """
trainer:
  max_epochs: 2
  log_every_n_steps: 1
  limit_val_batches: 0
  num_sanity_val_steps: 0
  enable_progress_bar: false
  enable_model_summary: false
model:
  init_args:
    lr_scheduler:
      class_path: torch.optim.lr_scheduler.LinearLR
      init_args: {start_factor: 1.0, end_factor: 0.1, total_iters: 6}
data:
  init_args: {num_examples: 12, num_val_examples: 4, batch_size: 4}
"""
EVERY_STEP = """
trainer:
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args: {save_last: true, every_n_train_steps: 1}
"""


def _args(tmp_path, root: str, version: str, *extra: str, every_step: bool = False) -> list[str]:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(OVERLAY, encoding="utf-8")
    configs = ["--config", "configs/tiny/sums.yaml", "--config", str(overlay)]
    if every_step:
        (tmp_path / "every_step.yaml").write_text(EVERY_STEP, encoding="utf-8")
        configs += ["--config", str(tmp_path / "every_step.yaml")]
    return ["fit", *configs, "--trainer.default_root_dir", str(tmp_path / root),
            "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
            "--trainer.logger.save_dir", str(tmp_path / root),
            "--trainer.logger.name", "", "--trainer.logger.version", version, *extra]  # fmt: skip


def _logged(tmp_path, root: str, version: str) -> dict[int, tuple[float, float]]:
    """step -> (train/loss, train/lr) as the CSV logger wrote them."""
    with open(tmp_path / root / version / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {
        int(r["step"]): (float(r["train/loss"]), float(r["train/lr"])) for r in rows if r.get("train/loss")
    }


def _signal_at(monkeypatch, step: int, signum: int, times: int = 1) -> None:
    """Send this process `signum` when training has done `step` steps (as a user or a scheduler would)."""

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.global_step == step:
            for _ in range(times):
                os.kill(os.getpid(), signum)

    monkeypatch.setattr(CausalLM, "on_train_batch_end", on_train_batch_end)


# ---------------------------------------------------------------- 1. exact resume
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("mode", list(MODES))
def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(mode, precision, tmp_path, monkeypatch):
    extra = [*MODES[mode], "--trainer.precision", precision]
    cli_main(_args(tmp_path, "straight", "run", *extra))
    with monkeypatch.context() as patch:
        _signal_at(patch, 4, signal.SIGTERM)  # after 4 of 6 steps: mid-way through the second epoch
        with pytest.raises(SystemExit) as stop:
            cli_main(_args(tmp_path, "resumed", "first", *extra))
    assert stop.value.code == 128 + signal.SIGTERM
    saved = torch.load(tmp_path / "resumed" / "first" / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 4
    assert saved["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"seed": 0, "epoch": 1, "batches": 1}
    ]
    resumed = cli_main(_args(tmp_path, "resumed", "second", *extra, "--ckpt_path", "last"))
    assert resumed.trainer.global_step == 6

    straight = _logged(tmp_path, "straight", "run")
    pieces = {**_logged(tmp_path, "resumed", "first"), **_logged(tmp_path, "resumed", "second")}
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


# ---------------------------------------------------------------- 2. interruption
def test_sigterm_to_a_running_fit_leaves_a_checkpoint_that_resumes(tmp_path):
    root = tmp_path / "run"
    args = _args(tmp_path, "run", "v", "--trainer.max_epochs", "1000", every_step=True)
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
    "presses, sigint_before", [(1, signal.default_int_handler), (2, signal.SIG_IGN)], indirect=["sigint_before"]
)
def test_ctrl_c_saves_a_checkpoint_and_a_second_one_stops_at_once(presses, sigint_before, tmp_path, monkeypatch, caplog):
    _signal_at(monkeypatch, 2, signal.SIGINT, times=presses)
    with caplog.at_level("INFO"), pytest.raises(SystemExit) as stop:
        cli_main(_args(tmp_path, "run", "v", *MODES["full"]))
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


# ---------------------------------------------------------------- 3. non-finite loss
@pytest.mark.parametrize("what", ["loss", "loss read at logging steps", "weights"])
def test_non_finite_loss_or_weights_stop_the_run_and_keep_the_last_good_checkpoint(
    what, tmp_path, monkeypatch
):
    extra = []
    if what.startswith("loss"):
        real_loss = CausalLM._loss

        def nan_at_step_3(self, batch):
            return real_loss(self, batch) * (float("nan") if self.training and self.global_step == 3 else 1.0)

        monkeypatch.setattr(CausalLM, "_loss", nan_at_step_3)
        message = (
            r"train/loss is nan at step 3 \(epoch 1, batch 0\): stopped before this step updated any weight"
        )
        if what != "loss":  # the GPU default: a flag on the device, read before the next checkpoint write
            extra = ["--model.init_args.finite_check", "log", "--trainer.log_every_n_steps", "50"]
            message = r"train/loss was not finite at step 3 \(found at step 4: .*\); the weights since then are not saved"
    else:  # a finite loss whose update still breaks the weights (an overflow in backward, say)

        def on_before_optimizer_step(self, optimizer):
            if self.global_step == 3:
                next(p for p in self.parameters() if p.requires_grad).grad.fill_(float("inf"))

        monkeypatch.setattr(CausalLM, "on_before_optimizer_step", on_before_optimizer_step)
        message = (
            r"1 trained weight\(s\) are not finite at step 4 \(e.g. .*\): this checkpoint is not written"
        )
    with pytest.raises(NonFiniteLossError, match=message) as error:
        cli_main(_args(tmp_path, "run", "v", *MODES["full"], *extra, every_step=True))
    last = tmp_path / "run" / "v" / "checkpoints" / "last.ckpt"
    assert f"the last checkpoint written, {last}, is kept" in str(error.value)
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["global_step"] == 3
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values() if v.is_floating_point())


def test_an_unknown_finite_check_mode_is_a_clear_error():
    from modules.non_finite import NonFiniteGuard

    with pytest.raises(UserInputError, match="finite_check must be auto, step or log, not 'sometimes'"):
        NonFiniteGuard("sometimes")


# ---------------------------------------------------------------- 4. data pre-flight
def _jsonl(path: Path, *records) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


GOOD = {"prompt": "12 es igual a", "completion": "nueve más tres"}


def test_preflight_shows_a_tokenized_example_with_its_label_mask(caplog):
    dm = SumsDataModule(tokenizer=TINY_MISTRAL, num_examples=8, num_val_examples=4)
    with caplog.at_level("INFO"):
        dm.setup("fit")
    text = caplog.text
    assert "lit: pre-flight, train example 1 of 8 (generated train example 1)" in text
    assert "rendered:         '<s>[INST] " in text and "</s>'" in text
    masked = next(line for line in text.splitlines() if "masked (prompt):" in line)
    trained = next(line for line in text.splitlines() if "trained (labels):" in line)
    assert masked.split(":", 1)[1].strip().startswith("<s>|") and "INST" in masked  # the prompt is masked
    assert trained.rstrip().endswith("</s>")  # the EOS ending the completion is trained
    assert "lit: pre-flight passed: 8 train, 4 val examples" in text


def test_preflight_refuses_a_completion_cut_away_and_counts_cut_ones(tmp_path):
    long_prompt = "20 más 23 es igual a " * 12
    train = _jsonl(tmp_path / "train.jsonl", GOOD, {"prompt": long_prompt, "completion": "nueve"})
    dm = SumsDataModule(tokenizer=TINY_MISTRAL, train_file=train, num_val_examples=2, max_length=48)
    says = rf"1 of 2 train examples \({train}:2\): the prompt alone is up to \d+ tokens, so max_length=48"
    with pytest.raises(DataError, match=says + " cuts away the whole completion"):
        dm.setup("fit")
    # Cut part-way (the prompt and one completion token fit): counted and named; training goes on.
    probe = SumsDataModule(tokenizer=TINY_MISTRAL, num_val_examples=2)
    probe.setup("validate")
    prompt_tokens = len(probe._encode(probe.render_prompt(long_prompt)))
    dm = SumsDataModule(
        tokenizer=TINY_MISTRAL, train_file=train, num_val_examples=2, max_length=prompt_tokens + 1
    )
    with pytest.warns(UserWarning, match=rf"1 of 2 train examples \({train}:2\) are longer than max_length"):
        dm.setup("fit")


def test_preflight_catches_a_missing_eos(tmp_path):
    class MasksPadding(SumsDataModule):  # a common bug: pad == EOS, padding masked by token id
        def collate(self, items):
            batch = super().collate(items)
            batch["labels"][batch["input_ids"] == self.tokenizer.pad_token_id] = -100
            return batch

    dm = MasksPadding(tokenizer=TINY_MISTRAL, num_examples=8, num_val_examples=2)
    with pytest.raises(DataError, match="masks out the EOS that ends each completion"):
        dm.setup("fit")
    # An EOS written into the data itself would end generation early.
    train = _jsonl(tmp_path / "train.jsonl", GOOD, {"prompt": "3 es igual a", "completion": "tres</s> más"})
    dm = SumsDataModule(tokenizer=TINY_MISTRAL, train_file=train, num_val_examples=2)
    with pytest.raises(
        DataError, match=rf"\({train}:2\): the completion itself contains the EOS token '</s>'"
    ):
        dm.setup("fit")


def test_preflight_catches_a_doubled_bos():
    class TwoBos(SumsDataModule):
        def render_prompt(self, prompt):
            return self.tokenizer.bos_token + super().render_prompt(prompt)  # the chat template adds one too

    with pytest.raises(
        DataError, match=r"8 of 8 train examples .* start with more than one BOS token \('<s>'\)"
    ):
        TwoBos(tokenizer=TINY_MISTRAL, num_examples=8, num_val_examples=2).setup("fit")


def test_empty_sets_and_missing_fields_name_the_source_and_line(tmp_path):
    train = _jsonl(tmp_path / "train.jsonl", GOOD, {"prompt": "3 es igual a", "completion": ""})
    with pytest.raises(DataError, match=rf"1 of 2 train examples \({train}:2\): empty completion"):
        SumsDataModule(tokenizer=TINY_MISTRAL, train_file=train, num_val_examples=2).setup("fit")
    null = _jsonl(tmp_path / "null.jsonl", GOOD, GOOD, {"prompt": None, "completion": "uno"})
    with pytest.raises(DataError, match=rf"{null}:3: 'prompt' is null, not text"):
        read_examples(null)
    blank = _jsonl(tmp_path / "blank.jsonl", {"prompt": "  ", "completion": "uno"})
    with pytest.raises(DataError, match=rf"{blank}:1: empty prompt"):
        read_examples(blank)
    (tmp_path / "val.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"val\.jsonl' holds no examples"):
        SumsDataModule(tokenizer=TINY_MISTRAL, num_examples=8, val_file=str(tmp_path / "val.jsonl")).setup(
            "fit"
        )


def test_non_utf8_and_truncated_jsonl_name_the_file_and_line(tmp_path, monkeypatch, capsys):
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes(
        b'{"prompt": "1 es igual a", "completion": "uno"}\n'
        b'{"prompt": "2 es igual a", "completion": "dos m\xe1s"}\n'
    )
    with pytest.raises(
        DataError, match=rf"{latin}:2: not valid UTF-8 \(invalid continuation byte at byte \d+ of the line\)"
    ):
        read_examples(str(latin))
    cut = tmp_path / "cut.jsonl"
    cut.write_text(
        json.dumps(GOOD) + "\n" + json.dumps(GOOD) + '\n{"prompt": "3 es igual a", "compl', encoding="utf-8"
    )
    with pytest.raises(
        DataError, match=rf"{cut}:3: not valid JSON: .*\(the file ends inside this record: truncated\?\)"
    ):
        read_examples(str(cut))
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    assert read_examples(str(bom))[0]["prompt"] == GOOD["prompt"]  # a byte-order mark is not an error
    # and the command line says it in one line, before any model loads
    from lit.cli import main

    argv = ["lit", "fit", "--config", "configs/tiny/sums.yaml", "--data.init_args.train_file", str(cut),
            "--trainer.default_root_dir", str(tmp_path)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    assert str(stop.value.code).startswith(f"lit: error: {cut}:3: not valid JSON")


# ---------------------------------------------------------------- 5. safe loading
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
        argv = ["lit", "fit", "--config", "configs/tiny/sums.yaml", "--ckpt_path", str(tmp_path / name),
                "--trainer.default_root_dir", str(tmp_path)]  # fmt: skip
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as stop:
            main()
        assert str(stop.value.code).startswith(f"lit: error: checkpoint {tmp_path / name} {says}")


def test_remote_code_is_off_unless_a_config_turns_it_on(tmp_path, monkeypatch):
    import transformers

    seen = {}

    class Stop(Exception):
        pass

    def record(name):
        def from_pretrained(*args, **kwargs):
            seen[name] = kwargs.get("trust_remote_code")
            raise Stop

        return from_pretrained

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", record("model"))
    with pytest.raises(Stop):
        CausalLM(model=TINY_MISTRAL).configure_model()
    monkeypatch.setattr(
        "datamodules.prompt_completion.load_tokenizer", lambda source, **kw: record("tokenizer")(**kw)
    )
    for flag, expected in (([], False), (["--model.init_args.trust_remote_code", "true"], True)):
        with pytest.raises(Stop):
            cli_main(
                [
                    "fit",
                    "--config",
                    "configs/tiny/sums.yaml",
                    "--trainer.default_root_dir",
                    str(tmp_path),
                    *flag,
                ]
            )
        assert seen == {"model": False, "tokenizer": expected}  # the data module follows the model's setting
    assert not [
        p
        for p in Path("configs").rglob("*.yaml")
        if "trust_remote_code: true" in p.read_text(encoding="utf-8")
    ]


# ---------------------------------------------------------------- last.ckpt is the last state
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
    return ["fit", "--config", "configs/embedded/sums.yaml", "--config", str(overlay),
            "--model.init_args.model", TINY_MISTRAL, "--model.init_args.max_new_tokens", "4",
            "--trainer.default_root_dir", str(tmp_path), *extra]  # fmt: skip


def test_last_checkpoint_holds_the_last_step_when_the_last_validation_is_not_the_best(tmp_path):
    """The issue's reproduction: Lightning 2.6 alone leaves last.ckpt at step 4 of 12."""
    cli = cli_main(_last_not_best_args(tmp_path))
    callback = cli.trainer.checkpoint_callback
    assert torch.load(callback.best_model_path, weights_only=True)["global_step"] == 4  # best is not last
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 12


def test_a_failing_evaluation_leaves_the_trained_state_on_disk_and_resumable(tmp_path, monkeypatch, caplog):
    def failing_step(self, batch, batch_idx, dataloader_idx=0):
        if self.global_step == 8:
            raise RuntimeError("injected evaluation failure")
        return original(self, batch, batch_idx, dataloader_idx)

    original = CausalLM.validation_step
    last = tmp_path / "checkpoints" / "last.ckpt"
    with monkeypatch.context() as patch, caplog.at_level("INFO"), pytest.raises(RuntimeError, match="injected"):
        patch.setattr(CausalLM, "validation_step", failing_step)
        cli_main(_last_not_best_args(tmp_path))
    assert torch.load(last, weights_only=True)["global_step"] == 8  # the 4 steps since the last validation kept
    assert f"the evaluation after step 8 failed (RuntimeError: injected evaluation failure); the training up to that step is saved in {last}" in caplog.text
    resumed = cli_main(_last_not_best_args(tmp_path, "--ckpt_path", "last"))
    assert resumed.trainer.global_step == 12
    assert torch.load(last, weights_only=True)["global_step"] == 12
