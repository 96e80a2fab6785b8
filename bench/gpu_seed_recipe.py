"""The reference experiment's QLoRA recipe (configs/mistral_sums.yaml) on Mistral-7B's real shapes, random
weights.

For a GPU machine without hub access: builds a random-init Mistral-7B (MistralConfig() is 7B) in
bf16, saves it beside the tiny tokenizer, then runs `lit fit` with the reference experiment's config for a few
steps and prints peak CUDA memory and tokens/s.

    python -m bench.gpu_seed_recipe --steps 30
"""

import argparse
import shutil
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, MistralConfig

from lit.cli import cli_main


def build_random_mistral_7b(out: Path) -> None:
    if (out / "config.json").is_file():
        return
    start = time.perf_counter()
    config = MistralConfig(vocab_size=32000)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(Path("tests/assets/tiny-mistral") / name, out / name)
    del model
    torch.cuda.empty_cache()
    print(f"built random Mistral-7B in {time.perf_counter() - start:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--model_dir", default="/tmp/mistral-7b-random")
    parser.add_argument("--out", default="runs/gpu_seed_recipe")
    options = parser.parse_args()
    build_random_mistral_7b(Path(options.model_dir))
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    cli = cli_main(
        [
            "fit",
            "--config",
            "configs/mistral_sums.yaml",
            "--model.init_args.model",
            options.model_dir,
            "--trainer.max_steps",
            str(options.steps),
            "--trainer.limit_val_batches",
            "1",
            "--trainer.num_sanity_val_steps",
            "0",
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.default_root_dir",
            options.out,
            "--throughput.log_every_n_steps",
            "10",
        ]
    )
    seconds = time.perf_counter() - start
    trainable = sum(p.numel() for p in cli.model.parameters() if p.requires_grad)
    print(
        f"GPU {torch.cuda.get_device_name()}: {options.steps} steps in {seconds:.0f} s (load included), "
        f"precision {cli.trainer.precision}, trainable {trainable}, "
        f"peak CUDA memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB, "
        f"callback metrics { {k: round(float(v), 4) for k, v in cli.trainer.callback_metrics.items()} }"
    )
    ckpt = next(Path(options.out).rglob("*.ckpt"))
    state = torch.load(ckpt, weights_only=True)["state_dict"]
    print(
        f"checkpoint {ckpt.name}: {len(state)} tensors, all LoRA: {all('lora_' in k for k in state)}, "
        f"{ckpt.stat().st_size / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()
