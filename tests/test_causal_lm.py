import json

import pytest
import torch
from transformers import AutoModelForCausalLM, MistralConfig

from lit.cli import cli_main
from modules.causal_lm import CausalLM
from modules.model_source import ModelSourceError, resolve_model_source
from modules.peft_config import LoraArgs, apply_lora, count_trainable
from tests.conftest import TINY_MISTRAL


def test_seed_recipe_on_mistral_7b_has_4718592_trainable_lora_parameters():
    with torch.device("meta"):  # the real shapes, no memory
        model = AutoModelForCausalLM.from_config(MistralConfig())  # MistralConfig() is Mistral-7B
    model = apply_lora(model, LoraArgs(r=8, alpha=16, dropout=0.1, target_modules=["k_proj", "v_proj", "o_proj"]))
    # per layer: k, v (4096 -> 1024) 8*(4096+1024) each, o (4096 -> 4096) 8*8192; 32 layers
    assert count_trainable(model) == 32 * (2 * 8 * (4096 + 1024) + 8 * (4096 + 4096)) == 4_718_592


def test_print_config_shows_the_seed_recipe(capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", "configs/mistral_sums.yaml", "--print_config"])
    out = capsys.readouterr().out
    for line in (
        "model: unsloth/mistral-7b-instruct-v0.2-bnb-4bit",
        "r: 8", "alpha: 16", "dropout: 0.1", "- k_proj", "- v_proj", "- o_proj",
        "max_epochs: 30", "batch_size: 2", "lr: 0.0001", "num_examples: 600", "quant_type: nf4",
    ):  # fmt: skip
        assert line in out, line


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
    assert ckpt["hyper_parameters"]["quantization"] == {"quant_type": "nf4", "double_quant": True, "compute_dtype": "auto", "quant_storage": "auto"}


def test_resume_loads_the_saved_adapter_not_a_fresh_one(tiny_fit_args, tmp_path):
    cli = cli_main(tiny_fit_args)
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    resumed = cli_main(tiny_fit_args + ["--trainer.max_epochs", "3", "--ckpt_path", "last"])
    assert resumed.trainer.current_epoch == 3 and resumed.trainer.global_step == cli.trainer.global_step + 8
    # And loading outside the trainer restores exactly the saved adapter.
    model = CausalLM.load_from_checkpoint(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    for key, value in torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"].items():
        assert torch.equal(model.state_dict()[key], value)
    assert any(not torch.equal(model.state_dict()[k], v) for k, v in saved.items())  # it trained on


def test_adapter_checkpoint_for_other_lora_settings_is_refused(tiny_fit_args, tmp_path):
    cli_main(tiny_fit_args + ["--trainer.max_epochs", "1"])
    other = CausalLM(model=TINY_MISTRAL, quantization=None, lora=LoraArgs(target_modules=["q_proj"]))
    other.configure_model()
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    with pytest.raises(RuntimeError, match="does not match this model's LoRA adapter"):
        other.load_state_dict(state)


def test_predict_writes_jsonl_with_scores(tiny_fit_args, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        '{"prompt": "33 es igual a", "reference": "33"}\n{"prompt": "20 más 23 es igual a"}\n', encoding="utf-8"
    )
    out = tmp_path / "predictions.jsonl"
    cli_main([
        "predict", "--config", "configs/tiny/sums.yaml",
        "--data.init_args.predict_file", str(prompts),
        "--trainer.callbacks+=lit.callbacks.JsonlPredictionWriter",
        "--trainer.callbacks.path", str(out),
        "--trainer.enable_progress_bar", "false",
    ])  # fmt: skip
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["prompt"] for r in rows] == ["33 es igual a", "20 más 23 es igual a"]
    assert rows[0]["reference"] == "33" and isinstance(rows[0]["score"], float)
    assert rows[1]["reference"] == "43"  # the sums task reads the target from the prompt
    assert all(isinstance(r["completion"], str) for r in rows)


def test_missing_lora_target_lists_the_linear_layers(tiny_fit_args):
    with pytest.raises(ValueError, match=r"\['qkv'\] match no linear layer.*k_proj.*q_proj.*v_proj"):
        cli_main(tiny_fit_args + ["--model.init_args.lora.target_modules", "[qkv]"])


def test_missing_model_path_says_so(tmp_path):
    with pytest.raises(ModelSourceError, match="does not exist"):
        resolve_model_source(str(tmp_path / "no-model"))
    with pytest.raises(ModelSourceError, match="has no config.json"):
        resolve_model_source(str(tmp_path))


def test_unknown_short_name_says_so(tiny_fit_args):
    with pytest.raises(ValueError, match="model 'smollm9': it is not an embedded short name \\(known: smollm2-135m-instruct\\)"):
        cli_main(tiny_fit_args + ["--model.init_args.model", "smollm9", "--data.init_args.num_examples", "8"])


def test_full_fine_tuning_checkpoint_holds_all_weights(tiny_fit_args, tmp_path):
    cli = cli_main(tiny_fit_args + ["--model.init_args.lora", "null", "--model.init_args.quantization", "null",
                                    "--trainer.max_epochs", "1"])  # fmt: skip
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert set(ckpt["state_dict"]) == set(cli.model.state_dict()) and "adapter_only" not in ckpt


def test_bad_input_is_one_message_not_a_traceback(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "3 es igual a", "completion": "tres"}\n{"prompt": \n', encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "lit", "fit", "--config", "configs/tiny/sums.yaml",
         "--data.init_args.train_file", str(bad), "--trainer.default_root_dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 1
    assert f"lit: error: {bad}:2: not valid JSON" in run.stderr
    assert "Traceback" not in run.stderr


def test_validate_before_fit_scores_the_untrained_model_first(tiny_fit_args, tmp_path):
    import csv

    cli = cli_main(tiny_fit_args + ["--validate_before_fit", "true", "--trainer.max_epochs", "1",
                                    "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
                                    "--trainer.logger.save_dir", str(tmp_path)])  # fmt: skip
    rows = list(csv.DictReader(open(next(tmp_path.rglob("metrics.csv")))))
    val_rows = [r for r in rows if r.get("val/mae")]
    assert [int(r["step"]) for r in val_rows] == [0, cli.trainer.global_step - 1]  # before, then after
    tokens = [float(r["train/tokens_per_s"]) for r in rows if r.get("train/tokens_per_s")]
    assert tokens and all(t > 0 for t in tokens)


def test_init_weights_refuses_full_weights_under_4bit(tmp_path):
    from modules.errors import UserInputError
    from modules.peft_config import QuantArgs

    full = tmp_path / "full.ckpt"
    torch.save({"state_dict": {"model.lm_head.weight": torch.zeros(1)}}, full)
    model = CausalLM(model=TINY_MISTRAL, quantization=QuantArgs(), lora=LoraArgs(), init_weights=str(full))
    with pytest.raises(UserInputError, match="holds full weights; they cannot load into a 4-bit base"):
        model.configure_model()


@pytest.mark.parametrize("precision, dtype", [("32-true", torch.float32), ("bf16-mixed", torch.bfloat16)])
def test_trainer_precision_sets_the_frozen_weights_and_4bit_compute_dtype(tiny_fit_args, precision, dtype):
    """One knob: `--trainer.precision` decides `dtype: auto` and `compute_dtype: auto`, whatever the CPU."""
    import bitsandbytes as bnb

    debug = ["--config", "configs/debug.yaml", "--trainer.precision", precision]
    dense = cli_main(tiny_fit_args + debug + ["--model.init_args.quantization", "null"]).model.model
    assert {p.dtype for p in dense.parameters() if not p.requires_grad} == {dtype}  # the frozen base
    assert {p.dtype for p in dense.parameters() if p.requires_grad} == {torch.float32}  # LoRA: fp32 master weights
    quantized = cli_main(tiny_fit_args + debug).model.model
    layers = [m for m in quantized.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and {m.compute_dtype for m in layers} == {dtype}


def test_hit_limit_is_the_share_of_generations_that_never_end(tiny_fit_args, monkeypatch):
    """`val/hit_limit`: a model looping until max_new_tokens ("nueve más nueve más ...") shows here."""

    def half_end(self, prompt_ids, prompt_mask):  # even rows end with EOS, odd rows run to the limit
        eos = self.tokenizer.eos_token_id
        rows = [[5, eos, eos] if i % 2 == 0 else [5, 6, 7] for i in range(len(prompt_ids))]
        return torch.tensor(rows)

    monkeypatch.setattr(CausalLM, "_generate_ids", half_end)
    args = ["validate", *tiny_fit_args[1:], "--config", "configs/debug.yaml"]
    metrics = cli_main(args).trainer.callback_metrics
    assert float(metrics["val/hit_limit"]) == 0.5
