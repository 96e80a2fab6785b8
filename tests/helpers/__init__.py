"""What many tests share: the tiny models' paths and a batch of the Java task.
Precision helpers are in `tests.helpers.precision`, the W&B offline-run reader in
`tests.helpers.wandb_offline`."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY_MISTRAL = str(ROOT / "tests" / "assets" / "tiny-mistral")
TINY_GPT2 = str(ROOT / "tests" / "assets" / "tiny-gpt2")
# The Java metric runs javac: tests that need it skip without a JDK on a developer's machine, and fail in CI
# (`CI` set), where a skip would leave the metric untested and the run green (`javac` in tests/conftest.py).
needs_javac = pytest.mark.usefixtures("javac")


def java_batch(tokenizer: str, size: int = 8) -> dict:
    """One collated training batch of the Java instruction task: prompts of different lengths."""
    from datamodules.java import JavaInstructDataModule

    data = JavaInstructDataModule(
        tokenizer=tokenizer, num_examples=size, num_val_examples=2, batch_size=size, compile_check=False
    )
    data.setup("fit")
    return data.collate(data.datasets["train"])


# One well-formed sums example, for files that also hold bad ones.
GOOD_EXAMPLE = {"prompt": "12 es igual a", "completion": "nueve más tres"}


def write_jsonl(path: Path, *records) -> str:
    """`records` as a JSONL file (non-ASCII kept as written); its path as a string."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


def wandb_fit_args(tiny_fit_args: list[str], tmp_path, *extra: str) -> list[str]:
    """The tiny fit with lit's W&B logger (offline in tests), one epoch, three logged generations."""
    return tiny_fit_args + [
        "--trainer.logger",
        "lit.loggers.WandbLogger",
        "--trainer.logger.save_dir",
        str(tmp_path),
        "--trainer.max_epochs",
        "1",
        "--model.init_args.log_generations",
        "3",
        *extra,
    ]
