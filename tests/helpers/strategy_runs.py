"""The 2-process runs of a sharding strategy that tests/test_fsdp.py and test_deepspeed.py check, in one
launch:

    python tests/helpers/strategy_runs.py OUT STRATEGY MODE... [-- LIT ARGS]
    (STRATEGY: fsdp, deepspeed; MODE: lora, 4bit+lora, full)

Lightning's launcher starts the second process by running this script again; each `cli_main` call
then runs on both processes together, in the same process group. One launch for every stage and mode,
because on a 2-core machine starting the two processes (importing torch, transformers, peft, Lightning)
costs more than the tiny runs themselves. Per mode: fit one epoch, validate its `last.ckpt`, resume
with `--ckpt_path last` for a second epoch. Rank 0 writes what the test reads to OUT/results.json: metrics,
the checkpoint in the one-process format (DeepSpeed's folder converted by Lightning's
`convert_zero_checkpoint_to_fp32_state_dict`) and how FSDP holds the weights.
LIT ARGS go after the overlay's (tests/test_gpu.py: `--trainer.accelerator gpu ...`).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import torch

from lit.cli import cli_main
from tests.helpers.tiny_runs import MODES

CPUS = ["--trainer.accelerator", "cpu", "--trainer.devices", "2"]
TINY = [
    "--config",
    "configs/tiny/sums.yaml",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
    "--trainer.logger",
    "false",
    "--model.init_args.log_generations",
    "16",
    "--trainer.gradient_clip_val",
    "1.0",
]  # clipping by the global norm of sharded gradients


def sharding(module) -> dict:
    """How the model's parameters are held in this process: FSDP units, and local against whole sizes;
    with 4-bit weights, how many of them gather back bit for bit to what a fresh one-process load packs."""
    from torch.distributed.fsdp import FSDPModule
    from torch.distributed.tensor import DTensor

    params = list(module.parameters())
    facts = {
        "units": sum(isinstance(m, FSDPModule) for m in module.modules()),
        "params": len(params),
        "dtensor_params": sum(isinstance(p, DTensor) for p in params),
        "numel": sum(p.numel() for p in params),
        "local_numel": sum((p.to_local() if isinstance(p, DTensor) else p).numel() for p in params),
    }
    if module.quantization is not None:
        facts["packed_4bit"] = packed_4bit_gathers_exactly(module)
    return facts


def packed_4bit_gathers_exactly(module) -> dict:
    """Every sharded 4-bit weight, gathered, against the same weight quantized in one process, as bytes:
    packed
    4-bit codes in float storage can look like NaN, and a copy that canonicalises NaNs would change them."""
    import bitsandbytes as bnb
    from transformers import AutoModelForCausalLM

    from modules.hardware import resolve_dtype
    from modules.loading import accelerator_of
    from modules.peft_config import bnb_config

    strategy, precision = module.trainer.strategy, module.trainer.precision
    accelerator = accelerator_of(strategy.root_device)
    quantized = bnb_config(module.quantization, accelerator, strategy, precision)
    # Loaded in the dtype the run loaded it in, so quantized from the same numbers.
    dtype = resolve_dtype(module.dtype_name, accelerator, precision)
    fresh = AutoModelForCausalLM.from_pretrained(
        module.source, quantization_config=quantized, dtype=dtype, device_map={"": strategy.root_device}
    )
    expected = {name: m.weight for name, m in fresh.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    checked, equal = 0, 0
    for name, m in module.model.get_base_model().named_modules():
        if isinstance(m, bnb.nn.Linear4bit):
            whole = m.weight.full_tensor()  # a collective: both processes walk the same modules
            reference = expected[name.replace(".base_layer", "")]
            checked += 1
            same_bytes = torch.equal(whole.view(torch.uint8), reference.data.view(torch.uint8))
            equal += whole.dtype == reference.dtype and same_bytes
    return {"checked": checked, "equal": equal, "dtype": str(reference.dtype)}


def metrics(trainer) -> dict:
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


def keep_checkpoint(trainer, last: Path, root: Path) -> tuple[Path, Path]:
    """A copy of `last` (the resume writes it again) and, from process 0, it in the one-process format."""
    import torch.distributed as dist

    kept, one_file = root / "epoch1.ckpt", root / "epoch1-one-process.ckpt"
    if trainer.is_global_zero:
        if last.is_dir():  # DeepSpeed's folder
            from lightning.pytorch.utilities.deepspeed import convert_zero_checkpoint_to_fp32_state_dict

            shutil.copytree(last, kept)
            convert_zero_checkpoint_to_fp32_state_dict(str(kept), str(one_file))
        else:
            shutil.copyfile(last, kept)
            shutil.copyfile(last, one_file)
    if dist.is_initialized():
        dist.barrier()  # the other process reads them next
    return kept, one_file


def run_mode(out: Path, strategy: str, mode: str, extra: list[str]) -> dict:
    start = time.perf_counter()
    root = out / mode
    overlay = ["--config", f"configs/strategies/{strategy}.yaml", *CPUS]
    args = [*TINY, *overlay, *MODES[mode], *extra, "--trainer.default_root_dir", str(root)]
    fit = cli_main(["fit", *args, "--trainer.max_epochs", "1"])
    kept, one_file = keep_checkpoint(fit.trainer, root / "checkpoints" / "last.ckpt", root)
    result = {"ckpt": str(one_file), "fit": metrics(fit.trainer), "fit_steps": fit.trainer.global_step}
    if strategy == "fsdp":
        result["sharding"] = sharding(fit.model)
    validate = cli_main(["validate", *args, "--ckpt_path", str(kept)])
    result["validate"] = metrics(validate.trainer)
    result["samples"] = validate.model.evaluation.samples.get(
        "val", []
    )  # this process's shard of the held-out set
    resumed = cli_main(["fit", *args, "--trainer.max_epochs", "2", "--ckpt_path", "last"])
    result["resumed_from"] = str(resumed.trainer.ckpt_path)
    result["resumed_steps"] = resumed.trainer.global_step
    result["resumed_ckpt"] = str(root / "checkpoints" / "last.ckpt")
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def main(argv: list[str]) -> None:
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    out, strategy, modes = Path(argv[0]), argv[1], argv[2 : argv.index("--") if "--" in argv else None]
    results = {mode: run_mode(out, strategy, mode, extra) for mode in modes}
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
