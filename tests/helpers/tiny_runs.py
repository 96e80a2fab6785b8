"""Short fits of the tiny sums config that tests compare step by step (resume, interruption, non-finite)."""

import csv

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


def tiny_run_args(tmp_path, root: str, version: str, *extra: str, every_step: bool = False) -> list[str]:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(OVERLAY, encoding="utf-8")
    configs = ["--config", "configs/tiny/sums.yaml", "--config", str(overlay)]
    if every_step:
        (tmp_path / "every_step.yaml").write_text(EVERY_STEP, encoding="utf-8")
        configs += ["--config", str(tmp_path / "every_step.yaml")]
    return [
        "fit",
        *configs,
        "--trainer.default_root_dir",
        str(tmp_path / root),
        "--trainer.logger",
        "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.save_dir",
        str(tmp_path / root),
        "--trainer.logger.name",
        "",
        "--trainer.logger.version",
        version,
        *extra,
    ]


def logged_loss_and_lr(tmp_path, root: str, version: str) -> dict[int, tuple[float, float]]:
    """step -> (train/loss, train/lr) as the CSV logger wrote them."""
    with open(tmp_path / root / version / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {
        int(r["step"]): (float(r["train/loss"]), float(r["train/lr"])) for r in rows if r.get("train/loss")
    }
