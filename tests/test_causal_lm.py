""""""

import json

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from lit.cli import cli_main
from modules.causal_lm import CausalLM


def test_tiny_fit_checkpoint_holds_only_the_adapter(tiny_fit_args, tmp_path):
    cli = cli_main(tiny_fit_args)
    assert cli.trainer.state.finished
    assert "val/mae" in cli.trainer.callback_metrics
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)  # nothing but data
    keys = set(ckpt["state_dict"])
    trainable = {n for n, p in cli.model.named_parameters() if p.requires_grad}
    assert keys == trainable and keys
    assert all(".lora_A." in k or ".lora_B." in k for k in keys)
    assert ckpt["adapter_only"] and ckpt["optimizer_states"]
    # 3 adapted projections x 2 layers x (A, B)
    assert len(keys) == 12
    assert ckpt["hyper_parameters"]["quantization"] == {
        "quant_type": "nf4",
        "double_quant": True,
        "compute_dtype": "auto",
        "quant_storage": "auto",
    }


def test_resume_loads_the_saved_adapter_not_a_fresh_one(tiny_fit_args, tmp_path):
    cli = cli_main(tiny_fit_args)
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    resumed = cli_main(tiny_fit_args + ["--trainer.max_epochs", "3", "--ckpt_path", "last"])
    assert resumed.trainer.current_epoch == 3 and resumed.trainer.global_step == cli.trainer.global_step + 8
    # And loading outside the trainer restores exactly the saved adapter.
    model = CausalLM.load_from_checkpoint(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    for key, value in torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)[
        "state_dict"
    ].items():
        assert torch.equal(model.state_dict()[key], value)
    assert any(not torch.equal(model.state_dict()[k], v) for k, v in saved.items())  # it trained on


def test_predict_writes_jsonl_with_scores(tiny_fit_args, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        '{"prompt": "33 es igual a", "reference": "33"}\n{"prompt": "20 más 23 es igual a"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "predictions.jsonl"
    cli_main(
        [
            "predict",
            "--config",
            "configs/tiny/sums.yaml",
            "--data.init_args.predict_file",
            str(prompts),
            "--trainer.callbacks+=lit.callbacks.JsonlPredictionWriter",
            "--trainer.callbacks.path",
            str(out),
            "--trainer.enable_progress_bar",
            "false",
        ]
    )
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["prompt"] for r in rows] == ["33 es igual a", "20 más 23 es igual a"]
    assert rows[0]["reference"] == "33" and isinstance(rows[0]["score"], float)
    assert rows[1]["reference"] == "43"  # the sums task reads the target from the prompt
    assert all(isinstance(r["completion"], str) for r in rows)


def test_full_fine_tuning_checkpoint_holds_all_weights(tiny_fit_args, tmp_path):
    cli = cli_main(
        tiny_fit_args
        + [
            "--model.init_args.lora",
            "null",
            "--model.init_args.quantization",
            "null",
            "--trainer.max_epochs",
            "1",
        ]
    )
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert set(ckpt["state_dict"]) == set(cli.model.state_dict()) and "adapter_only" not in ckpt


@pytest.mark.parametrize("precision, dtype", [("32-true", torch.float32), ("bf16-mixed", torch.bfloat16)])
def test_trainer_precision_sets_the_frozen_weights_and_4bit_compute_dtype(tiny_fit_args, precision, dtype):
    """One knob: `--trainer.precision` decides `dtype: auto` and `compute_dtype: auto`, whatever the CPU."""
    import bitsandbytes as bnb

    debug = ["--config", "configs/debug.yaml", "--trainer.precision", precision]
    dense = cli_main(tiny_fit_args + debug + ["--model.init_args.quantization", "null"]).model.model
    assert {p.dtype for p in dense.parameters() if not p.requires_grad} == {dtype}  # the frozen base
    assert {p.dtype for p in dense.parameters() if p.requires_grad} == {
        torch.float32
    }  # LoRA: fp32 master weights
    quantized = cli_main(tiny_fit_args + debug).model.model
    layers = [m for m in quantized.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and {m.compute_dtype for m in layers} == {dtype}


def test_hit_limit_is_the_share_of_generations_that_never_end(tiny_fit_args, monkeypatch):
    """`val/hit_limit`: a model looping until max_new_tokens ("nueve más nueve más ...") shows here."""

    def half_end(self, prompt_ids, prompt_mask):  # even rows end with EOS, odd rows run to the limit
        eos = self.tokenizer.eos_token_id
        rows = [[5, eos, eos] if i % 2 == 0 else [5, 6, 7] for i in range(len(prompt_ids))]
        return torch.tensor(rows)

    monkeypatch.setattr(CausalLM, "generate_ids", half_end)
    args = ["validate", *tiny_fit_args[1:], "--config", "configs/debug.yaml"]
    metrics = cli_main(args).trainer.callback_metrics
    assert float(metrics["val/hit_limit"]) == 0.5


def test_the_sanity_check_generates_a_few_tokens_and_validation_the_full_length(tiny_fit_args, monkeypatch):
    """Lightning's sanity check only looks for errors: it runs the evaluation code on a few tokens."""
    import modules.causal_lm as evaluation
    import modules.generation as generation

    limits = []  # (sanity checking?, max_new_tokens) of every generation call
    modules = []  # the LightningModule
    real = generation.greedy_generate

    def spy(model, ids, mask, max_new_tokens, *args):
        limits.append((modules[0].trainer.sanity_checking, max_new_tokens))
        return real(model, ids, mask, max_new_tokens, *args)

    monkeypatch.setattr(generation, "greedy_generate", spy)
    monkeypatch.setattr(CausalLM, "on_fit_start", lambda self: modules.append(self))
    cli_main(
        tiny_fit_args
        + [
            "--trainer.num_sanity_val_steps",
            "1",
            "--trainer.max_steps",
            "1",
            "--trainer.val_check_interval",
            "1",
            "--trainer.limit_val_batches",
            "1",
            "--model.init_args.max_new_tokens",
            "9",
        ]
    )
    assert {limit for sanity, limit in limits if sanity} == {evaluation.SANITY_NEW_TOKENS}
    assert {limit for sanity, limit in limits if not sanity} == {9}


class CountHostReads(Callback):
    """Counts reads of tensor values (each a device sync on a GPU) inside training steps that log nothing."""

    every, reads, active = 5, 0, False

    # From a step's start to the next one's, so Lightning's own work after the step's hooks counts;
    # not inside the optimizer, whose step counters live on the host by design.
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        CountHostReads.active = (trainer.global_step + 1) % self.every != 0

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.was_active, CountHostReads.active = CountHostReads.active, False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        CountHostReads.active = self.was_active

    def on_train_epoch_end(self, trainer, pl_module):
        CountHostReads.active = False


def test_training_steps_read_no_tensor_values_between_logging_steps(tiny_fit_args, monkeypatch):
    # The class the CLI instantiates by its path (pytest may import this file under another name).
    from tests.test_causal_lm import CountHostReads as counter

    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            counter.reads += counter.active
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    counter.reads = 0
    cli = cli_main(
        tiny_fit_args
        + [
            "--trainer.max_epochs",
            "1",
            "--trainer.log_every_n_steps",
            str(counter.every),
            "--trainer.enable_progress_bar",
            "true",
            "--trainer.limit_val_batches",
            "0",
            "--trainer.callbacks+=tests.test_causal_lm.CountHostReads",
            "--model.init_args.finite_check",
            "log",  # what "auto" picks on a GPU; "step" reads every loss
        ]
    )
    assert cli.trainer.global_step > counter.every  # steps on both sides of a logging step
    assert counter.reads == 0


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_an_evaluation_generates_each_distinct_prompt_once_and_scores_every_item(
    tiny_fit_args, monkeypatch, precision
):
    """A `val` of 16 draws over 4 targets (the reference experiment's sets repeat prompts): each distinct
    prompt of a batch is generated once, every draw is still scored, and in fp32 every metric is what
    generating each row gives."""
    import modules.causal_lm as causal_lm
    import modules.generation as generation

    generated_rows = []
    real = generation.greedy_generate

    def spy(model, ids, *args):
        generated_rows.append(len(ids))
        return real(model, ids, *args)

    monkeypatch.setattr(generation, "greedy_generate", spy)
    args = [
        "validate",
        *tiny_fit_args[1:],
        "--trainer.precision",
        precision,
        "--data.init_args.held_out_every",
        "0",
        "--data.init_args.min_target",
        "10",
        "--data.init_args.max_target",
        "13",
    ]

    def validate() -> dict:
        metrics = cli_main(args).trainer.callback_metrics
        return {k: float(v) for k, v in metrics.items() if k.startswith("val/")}

    deduplicated = validate()
    rows, generated_rows[:] = list(generated_rows), []
    monkeypatch.setattr(causal_lm, "distinct_rows", lambda prompts: (list(range(len(prompts))),) * 2)
    every_row = validate()
    assert sum(generated_rows) == 16 and sum(rows) <= 2 * 4 < 16  # 2 batches of 8, at most 4 prompts each
    assert deduplicated["val/distinct"] == every_row["val/distinct"] == 4
    assert deduplicated["val/loss"] == every_row["val/loss"]  # the loss never went through generation
    # Other rows in the batch: the same computation per row in fp32 (tests/test_generation.py).
    if precision == "32-true":
        assert deduplicated == every_row
    else:  # bf16 rounding may follow the rows of the batch: only the same metrics logged
        assert deduplicated.keys() == every_row.keys()


def test_score_every_generates_a_set_at_its_turns_and_the_last_validation(tiny_fit_args, monkeypatch):
    """`score_every: {val_seen: 2}` over 3 validations of fit (steps 2, 4, 6): `val` is scored by generation
    every time, `val_seen` at the second (its turn) and the third (the last of fit), its loss every time."""
    from modules.evaluation import Evaluation

    logged = []
    real = Evaluation.compute

    def spy(self, names):
        values = real(self, names)
        logged.append(set(values))
        return values

    monkeypatch.setattr(Evaluation, "compute", spy)
    cli = cli_main(
        tiny_fit_args
        + [
            "--data.init_args.held_out_every",
            "4",
            "--trainer.max_steps",
            "6",
            "--trainer.val_check_interval",
            "2",
            "--trainer.num_sanity_val_steps",
            "0",
            "--model.init_args.max_new_tokens",
            "4",
            "--model.init_args.score_every",
            '{"val_seen": 2}',
        ]
    )
    assert len(logged) == 3 and all({"val/mae", "val_seen/loss", "val/distinct"} <= keys for keys in logged)
    assert ["val_seen/mae" in keys for keys in logged] == [False, True, True]
    assert cli.model.evaluation.validations == 3


def test_score_every_refuses_a_monitor_it_would_leave_out(tiny_fit_args):
    args = tiny_fit_args + [
        "--data.init_args.held_out_every",
        "4",
        "--trainer.max_steps",
        "2",
        "--model.init_args.score_every",
        '{"val_seen": 3}',
        "--trainer.callbacks.monitor",
        "val_seen/mae",
    ]
    refused = "monitors 'val_seen/mae', but score_every scores 'val_seen' only every 3"
    with pytest.raises(ValueError, match=refused):
        cli_main(args)
