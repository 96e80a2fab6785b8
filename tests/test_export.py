"""`lit export`: a merged model that loads in plain peft and transformers, checked before it is kept."""

import json

import pytest
import torch

from lit.cli import cli_main
from lit.export import held_out_batches
from tests.helpers import ROOT
from tests.helpers.precision import PRECISIONS


@pytest.mark.parametrize("precision", PRECISIONS)
def test_export_4bit_lora_loads_in_plain_peft_and_transformers(tiny_fit_args, tmp_path, precision):
    """A run trained in bf16 exports as one trained in fp32: the check compares both in fp32."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    from tests.helpers import TINY_MISTRAL

    cli_main(tiny_fit_args + ["--trainer.precision", precision])
    out = tmp_path / "export"
    cli_main(["export", "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt"), "--out", str(out)])
    check = json.loads((out / "export_check.json").read_text())
    assert check["quantized_base"] and check["same_greedy_output"] == check["prompts"] == 8
    assert (
        check["max_abs_logit_diff"] <= check["atol"] == 1e-3 and check["saved_dtype"] == "float32"
    )  # the base's
    assert (out / "adapter" / "adapter_model.safetensors").is_file()

    tokenizer = AutoTokenizer.from_pretrained(out / "merged")
    quantized = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.float32,
    )
    base = AutoModelForCausalLM.from_pretrained(
        TINY_MISTRAL, quantization_config=quantized, dtype=torch.float32
    )
    adapter = PeftModel.from_pretrained(base, out / "adapter").eval()
    merged = AutoModelForCausalLM.from_pretrained(out / "merged").eval()
    assert not any(".lora_" in name for name, _ in merged.named_parameters())
    trained_b = [p for n, p in adapter.named_parameters() if "lora_B" in n]
    assert any(p.abs().sum() > 0 for p in trained_b)  # the adapter is the trained one, not a fresh zero init
    prompts = ["<s>[INST] 33 es igual a [/INST]", "<s>[INST] 12 es igual a [/INST]"]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    kwargs = dict(max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    with torch.no_grad():
        from_adapter = adapter.generate(**batch, **kwargs)
        from_merged = merged.generate(**batch, **kwargs)
    assert torch.equal(from_adapter, from_merged)

    if precision == "bf16-mixed":  # saved in the dtype asked for, checked in fp32 all the same
        cli_main(
            [
                "export",
                "--ckpt_path",
                str(tmp_path / "checkpoints" / "last.ckpt"),
                "--out",
                str(out / "bf16"),
                "--dtype",
                "bfloat16",
            ]
        )
        check = json.loads((out / "bf16" / "export_check.json").read_text())
        assert check["saved_dtype"] == "bfloat16" and check["compared_in"] == "float32"
        assert AutoModelForCausalLM.from_pretrained(out / "bf16" / "merged").dtype == torch.bfloat16


def test_merging_a_dense_base_leaves_the_trained_model_as_it_was(tmp_path):
    """With a dense (not 4-bit) fp32 base, the merged model's weights are copies: merging the adapter into
    them
    once changed the trained model too, and export then refused its own correct merge."""
    from lit.export import merge
    from tests.helpers import TINY_MISTRAL
    from tests.helpers.precision import random_adapter_module

    module = random_adapter_module(TINY_MISTRAL, "32-true")
    ids = torch.tensor([[1, 40, 41, 42, 43]])
    with torch.no_grad():
        before = module.model(input_ids=ids).logits
        module.model.save_pretrained(str(tmp_path / "adapter"))
        merged = merge(module, tmp_path / "adapter")
        after = module.model(input_ids=ids).logits
        torch.testing.assert_close(after, before, rtol=0, atol=0)
        torch.testing.assert_close(merged(input_ids=ids).logits, before)  # fp32 defaults


def test_export_refuses_when_the_merged_model_differs(tiny_fit_args, tmp_path, monkeypatch):
    import lit.export
    from lit.export import ExportCheckError, export

    merge = lit.export.merge

    def broken_merge(module, adapter_dir):  # a merge that gets one layer wrong
        model = merge(module, adapter_dir)
        with torch.no_grad():
            model.model.layers[0].self_attn.o_proj.weight.add_(0.05)
        return model

    monkeypatch.setattr(lit.export, "merge", broken_merge)
    cli_main(tiny_fit_args)
    with pytest.raises(ExportCheckError, match="logits differ by up to"):
        export(str(tmp_path / "checkpoints" / "last.ckpt"), str(tmp_path / "export"))
    assert not (tmp_path / "export" / "merged").exists()


def test_a_checkpoint_written_before_the_tasks_moved_still_loads_and_rebuilds_its_data(tmp_path):
    """tests/assets/checkpoints/tiny_java_instruct_f56083f.ckpt: one step of configs/tiny/java_instruct.yaml
    written by commit f56083f, when the data module was `datamodules.java_instruct.JavaInstructDataModule`."""
    old = ROOT / "tests" / "assets" / "checkpoints" / "tiny_java_instruct_f56083f.ckpt"
    checkpoint = torch.load(old, weights_only=True)
    assert checkpoint["lit_datamodule"]["class_path"] == "datamodules.java_instruct.JavaInstructDataModule"
    batches = held_out_batches(checkpoint, None, 3)
    assert sum(len(ids) for ids, _ in batches) == 3
    cli = cli_main(
        [
            "validate",
            "--config",
            "configs/tiny/java_instruct.yaml",
            "--ckpt_path",
            str(old),
            "--trainer.limit_val_batches",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.enable_progress_bar",
            "false",
        ]
    )
    assert cli.trainer.callback_metrics["val/loss"] > 0


def test_export_checks_on_a_prompt_file_of_the_users(tmp_path):
    from lit.export import prompt_file_batches
    from modules.tokenizer import load_tokenizer
    from tests.helpers import TINY_MISTRAL

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        '{"prompt": "33 es igual a"}\n{"prompt": "12 es igual a", "completion": "doce"}\n', encoding="utf-8"
    )
    ((ids, mask),) = prompt_file_batches(str(prompts), load_tokenizer(TINY_MISTRAL), num_prompts=8)
    assert ids.shape[0] == mask.shape[0] == 2
