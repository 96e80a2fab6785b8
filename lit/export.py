"""`python -m lit export --ckpt_path CKPT --out DIR`: take a fine-tuned model to other tools.

Writes `DIR/adapter` (the LoRA adapter in peft's format: `PeftModel.from_pretrained(base, DIR/adapter)`)
and `DIR/merged` (the adapter merged into the base, a plain Hugging Face model with its tokenizer:
`AutoModelForCausalLM.from_pretrained(DIR/merged)`). A 4-bit base is dequantized before merging, so
the merged model computes what the trained model computed. Before it says done, export loads the
model against the trained model on held-out prompts of the run's own data, both in fp32 whatever
precision the run trained in: same greedy output, logits within a tolerance; otherwise it refuses
and says by how much they differ. The merged model is saved in the base model's dtype (or the one
asked for), and the file is read back and checked to hold exactly those weights.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import shutil
from pathlib import Path

import torch

from modules.errors import UserInputError


class ExportCheckError(UserInputError):
    """The merged model does not reproduce the trained one."""


def load_trained(ckpt_path: str):
    """The CausalLM of a lit checkpoint, with its weights, on CPU in eval mode, and the checkpoint.

    The model computes in fp32 (dense weights and 4-bit compute), whatever precision it trained in:
    the trained weights (adapter or full) are fp32 in the checkpoint, and fp32 is the reference the
    merged model is checked against, like with like.
    """
    from modules.causal_lm import CausalLM

    if not Path(ckpt_path).is_file():
        raise UserInputError(f"export: checkpoint {ckpt_path} not found")
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    if "hyper_parameters" not in checkpoint or "state_dict" not in checkpoint:
        raise UserInputError(f"export: {ckpt_path} is not a lit checkpoint (no hyper_parameters/state_dict)")
    accepted = inspect.signature(CausalLM.__init__).parameters
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if k in accepted}
    hparams["dtype"] = "float32"
    if hparams.get("quantization"):
        hparams["quantization"] = {**hparams["quantization"], "compute_dtype": "float32"}
    module = CausalLM(**hparams)
    module.configure_model()
    module.load_state_dict(checkpoint["state_dict"])
    module.model.eval()
    return module, checkpoint


def dense_base_state(model) -> dict[str, torch.Tensor]:
    """The base model's weights in full precision, under plain (non-peft) names: 4-bit layers dequantized."""
    import bitsandbytes as bnb

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    state = {}
    for name, module in base.named_modules():
        if "lora_" in name:
            continue
        plain = name.replace(".base_layer", "")
        if isinstance(module, bnb.nn.Linear4bit):
            weight = bnb.functional.dequantize_4bit(module.weight.data, module.weight.quant_state)
            state[f"{plain}.weight"] = weight.float()
            if module.bias is not None:
                state[f"{plain}.bias"] = module.bias.detach().float()
            continue
        for key, tensor in module.named_parameters(recurse=False):
            # A copy: `.float()` of an fp32 weight is the same tensor, and the merge below writes the
            # adapter into these weights, which would then change the trained model it is checked against.
            state[f"{plain}.{key}"] = tensor.detach().to(torch.float32, copy=True)
        for key, tensor in module.named_buffers(recurse=False):
            if tensor is not None and key not in module._non_persistent_buffers_set:  # e.g. rotary inv_freq
                state[f"{plain}.{key}"] = tensor.detach()
    return state


def merge(module, adapter_dir: Path | None):
    """A plain full-precision transformers model equal to the trained one (adapter merged)."""
    from transformers import AutoModelForCausalLM

    trained = module.model
    config = (trained.get_base_model() if hasattr(trained, "get_base_model") else trained).config
    config = type(config).from_dict(config.to_dict())
    config.quantization_config = None
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        dense = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    state = dense_base_state(trained)
    missing, unexpected = dense.load_state_dict(state, strict=False, assign=True)
    tied = set(getattr(dense, "_tied_weights_keys", None) or {})
    missing = [k for k in missing if k not in tied and not k.endswith("lm_head.weight")]
    if missing or unexpected:
        raise RuntimeError(
            f"export: base weights do not fit the architecture: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}"
        )
    # Non-persistent buffers (rotary frequencies) are in no state dict: take the trained model's.
    base = trained.get_base_model() if hasattr(trained, "get_base_model") else trained
    buffers = {name.replace(".base_layer", ""): b for name, b in base.named_buffers()}
    for name, buffer in list(dense.named_buffers()):
        if buffer.is_meta:
            owner, _, key = name.rpartition(".")
            dense.get_submodule(owner).register_buffer(
                key, buffers[name].detach().float().clone(), persistent=False
            )
    dense.tie_weights()
    if adapter_dir is None:
        return dense.eval()
    from peft import PeftModel

    return PeftModel.from_pretrained(dense, str(adapter_dir)).merge_and_unload().eval()


# Data modules that moved when each task got its own package: checkpoints written before record
# the old class paths (`datamodules.sums.SumsDataModule` still resolves).
MOVED_DATAMODULES = {
    "datamodules.java_instruct.JavaInstructDataModule": "datamodules.java.JavaInstructDataModule",
    "datamodules.java_corpus.JavaCorpusDataModule": "datamodules.java.JavaCorpusDataModule",
}


def held_out_batches(checkpoint: dict, module, num_prompts: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(prompt ids, mask) batches from the run's own validation data, rebuilt from the checkpoint."""
    record = checkpoint.get("lit_datamodule")
    if record is None:
        raise UserInputError("export: this checkpoint does not record its data module; pass --prompts FILE")
    class_path = MOVED_DATAMODULES.get(record["class_path"], record["class_path"])
    module_name, _, class_name = class_path.rpartition(".")
    kind = getattr(importlib.import_module(module_name), class_name)
    init_args = {k: v for k, v in record["init_args"].items() if not k.startswith("_")}  # not CLI bookkeeping
    datamodule = kind(**init_args)
    datamodule.setup("validate")
    loaders = datamodule.val_dataloader()
    loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
    batches, count = [], 0
    for batch in loader:
        if "prompt_ids" in batch:
            ids, mask = batch["prompt_ids"], batch["prompt_mask"]
        else:  # a corpus block: its first 32 tokens as the prompt
            ids, mask = batch["input_ids"][:, :32], batch["attention_mask"][:, :32]
        take = min(num_prompts - count, len(ids))
        batches.append((ids[:take], mask[:take]))
        count += take
        if count >= num_prompts:
            break
    return batches


def prompt_file_batches(path: str, tokenizer, num_prompts: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    from datamodules.formats import read_examples

    prompts = [e["prompt"] for e in read_examples(path) if e.get("prompt")][:num_prompts]
    if not prompts:
        raise UserInputError(f"export: {path} holds no prompts")
    encoded = tokenizer(prompts, return_tensors="pt", padding=True)  # left padding (lit's tokenizer)
    return [(encoded["input_ids"], encoded["attention_mask"])]


@torch.no_grad()
def compare(reference, candidate, batches, tokenizer, max_new_tokens: int) -> dict:
    """Greedy outputs and logits of two models on the same prompts."""
    same, total, worst = 0, 0, 0.0
    for ids, mask in batches:
        a = reference(input_ids=ids, attention_mask=mask).logits
        b = candidate(input_ids=ids, attention_mask=mask).logits
        valid = mask.bool()
        worst = max(worst, float((a - b).abs()[valid].max()))
        kwargs = dict(max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        out_a = reference.generate(input_ids=ids, attention_mask=mask, **kwargs)[:, ids.shape[1] :]
        out_b = candidate.generate(input_ids=ids, attention_mask=mask, **kwargs)[:, ids.shape[1] :]
        for x, y in zip(out_a, out_b):
            same += int(
                tokenizer.decode(x, skip_special_tokens=True) == tokenizer.decode(y, skip_special_tokens=True)
            )
            total += 1
    return {"prompts": total, "same_greedy_output": same, "max_abs_logit_diff": worst}


def saved_dtype(module, name: str) -> torch.dtype:
    """The dtype the merged model is written in: `name`, or for "auto" the base model's own."""
    from modules.hardware import DTYPES

    if name != "auto":
        if name not in DTYPES:
            raise UserInputError(f"export: unknown dtype {name!r}; use auto, {', '.join(DTYPES)}")
        return DTYPES[name]
    model = module.model
    config = (model.get_base_model() if hasattr(model, "get_base_model") else model).config
    dtype = getattr(config, "dtype", None) or torch.float32
    return DTYPES.get(dtype, torch.float32) if isinstance(dtype, str) else dtype


def check_saved_weights(merged, merged_dir: Path, dtype: torch.dtype) -> None:
    """The file holds exactly the merged weights cast to `dtype` (a save is a cast, nothing else)."""
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=dtype).state_dict()
    for name, tensor in merged.state_dict().items():
        if name in reloaded and not torch.equal(reloaded[name], tensor.to(dtype)):
            raise ExportCheckError(f"export: {merged_dir} holds other weights than the merged model ({name})")


def export(
    ckpt_path: str,
    out: str,
    num_prompts: int = 8,
    atol: float = 1e-3,
    prompts: str | None = None,
    max_new_tokens: int | None = None,
    dtype: str = "auto",
) -> dict:
    """Write DIR/adapter (with LoRA) and DIR/merged, check them, and return the check's figures."""
    module, checkpoint = load_trained(ckpt_path)
    save_as = saved_dtype(module, dtype)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = module.tokenizer
    adapter_dir = None
    if module.lora is not None:
        adapter_dir = out_dir / "adapter"
        module.model.save_pretrained(str(adapter_dir), safe_serialization=True)
        tokenizer.save_pretrained(str(adapter_dir))
    merged = merge(module, adapter_dir)  # fp32
    merged_dir = out_dir / "merged"
    if merged_dir.exists():
        shutil.rmtree(merged_dir)

    batches = (
        prompt_file_batches(prompts, tokenizer, num_prompts)
        if prompts
        else held_out_batches(checkpoint, module, num_prompts)
    )
    check = compare(module.model, merged, batches, tokenizer, max_new_tokens or module.max_new_tokens)
    check.update(
        atol=atol,
        checkpoint=str(ckpt_path),
        base=str(module.source),
        quantized_base=module.quantization is not None,
        compared_in="float32",
        saved_dtype=str(save_as).removeprefix("torch."),
    )
    if check["same_greedy_output"] < check["prompts"] or check["max_abs_logit_diff"] > atol:
        raise ExportCheckError(
            f"export: the merged model does not reproduce the trained one on {check['prompts']} held-out "
            "prompts: "
            f"{check['prompts'] - check['same_greedy_output']} greedy outputs differ, logits differ by up to "
            f"{check['max_abs_logit_diff']:.3g} (tolerance {atol:g}, both in fp32); nothing was written to "
            f"{merged_dir}"
        )
    merged.to(save_as).save_pretrained(str(merged_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(merged_dir))
    try:
        check_saved_weights(merged, merged_dir, save_as)
    except ExportCheckError:
        shutil.rmtree(merged_dir)
        raise
    (out_dir / "export_check.json").write_text(json.dumps(check, indent=2) + "\n", encoding="utf-8")
    return check


def export_main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m lit export", description=__doc__)
    parser.add_argument("--ckpt_path", required=True, help="a lit checkpoint (.ckpt)")
    parser.add_argument("--out", required=True, help="output folder: adapter/ and merged/ go there")
    parser.add_argument("--num_prompts", type=int, default=8, help="held-out prompts for the self-check")
    parser.add_argument("--atol", type=float, default=1e-3, help="largest allowed logit difference")
    parser.add_argument(
        "--prompts", default=None, help="JSONL with `prompt` to check on, instead of the run's data"
    )
    parser.add_argument("--max_new_tokens", type=int, default=None, help="generation length of the check")
    parser.add_argument(
        "--dtype",
        default="auto",
        help="dtype of merged/: auto (the base model's), float32, bfloat16, float16",
    )
    options = parser.parse_args(args)
    check = export(
        options.ckpt_path,
        options.out,
        options.num_prompts,
        options.atol,
        options.prompts,
        options.max_new_tokens,
        options.dtype,
    )
    written = "adapter/ and merged/" if (Path(options.out) / "adapter").exists() else "merged/"
    print(
        f"lit: exported {written} to {options.out}; check on {check['prompts']} held-out prompts: "
        f"same greedy output {check['same_greedy_output']}/{check['prompts']}, "
        f"max logit difference {check['max_abs_logit_diff']:.2e} (tolerance {options.atol:g}, fp32); "
        f"merged/ saved in {check['saved_dtype']}"
    )
