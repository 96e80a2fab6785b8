"""bitsandbytes' packed CPU kernel for 4-bit layers against the layout lit keeps (modules/cpu_4bit.py).

On a CPU with AVX512-BF16 bitsandbytes packs 4-bit weights for `gemv_4bit` on an eval forward; lit turns that
off, since the layout has no gradient and its conversion back is lossy. Whether evaluation would gain from it
is this script's question: it generates greedily for the first held-out batch of a config, once in lit's
layout and once with the packing allowed, and prints the time of each and how many generations are the same:

    python -m bench.cpu_4bit_kernel --precision bf16-mixed --out bench/records/cpu_4bit_kernel.json

Only on a CPU with native bf16 (elsewhere bitsandbytes has no packed kernel). The adapter is the untrained
one (LoRA B = 0): the base model's generations, run to `max_new_tokens` where they do not end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.common import commit, model_as_fit
from modules.cpu_4bit import is_packed
from modules.hardware import cpu_description, cpu_flags_have_native_bf16


def timed_generation(module, batch, repeats: int) -> tuple[float, list[str]]:
    best, texts = float("inf"), []
    for _ in range(repeats):
        start = time.perf_counter()
        texts = module.generate(batch["prompt_ids"], batch["prompt_mask"])
        best = min(best, time.perf_counter() - start)
    return best, texts


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="configs/embedded/sums.yaml")
    parser.add_argument("--precision", default="bf16-mixed")
    parser.add_argument("--repeats", type=int, default=2, help="generations per layout; the fastest counts")
    parser.add_argument("--out", default=None, help="JSON record of the measurement")
    options = parser.parse_args(argv)
    if not cpu_flags_have_native_bf16():
        sys.exit(
            "cpu_4bit_kernel: this CPU has no native bf16, so bitsandbytes has no packed kernel to compare"
        )
    cli, module, data = model_as_fit(options.config, options.precision)
    loaders = data.val_dataloader()  # one loader, or one per held-out set: the first set's first batch
    batch = next(iter(loaders[0] if isinstance(loaders, list) else loaders))
    with cli.trainer.precision_plugin.forward_context():
        kept_seconds, kept = timed_generation(module, batch, options.repeats)
        for (
            layer
        ) in module.linear_4bit:  # bitsandbytes' own behaviour on this CPU: pack on the first eval forward
            layer.support_avx512bf16_for_cpu = True
        packed_seconds, packed = timed_generation(module, batch, options.repeats)
    assert all(is_packed(layer) for layer in module.linear_4bit)
    result = {
        "command": "python -m bench.cpu_4bit_kernel " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": commit(),
        "config": options.config,
        "precision": options.precision,
        "cpu": cpu_description(),
        "prompts": len(kept),
        "distinct_prompts": len(set(batch["prompts"])),
        "max_new_tokens": module.max_new_tokens,
        "seconds_lit_layout": round(kept_seconds, 2),
        "seconds_packed_kernel": round(packed_seconds, 2),
        "speedup_packed": round(kept_seconds / packed_seconds, 2),
        "same_generations": sum(a == b for a, b in zip(kept, packed)),
    }
    print(json.dumps(result, indent=1))
    if options.out:
        Path(options.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
