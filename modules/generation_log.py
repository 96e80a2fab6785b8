"""Sample generations of each validation, for people to read: a W&B Table and a local JSONL."""

from __future__ import annotations

import json
from pathlib import Path

COLUMNS = ["prompt", "generated", "reference", "score"]


def run_directory(logger) -> Path | None:
    """The folder a logger writes its run into, when it has one on disk."""
    folder = getattr(logger, "run_dir", None) or getattr(logger, "log_dir", None)
    return Path(folder) if folder else None


def keep_samples(samples: list[dict], limit: int, batch: dict, completions: list[str], score=None) -> None:
    """Append this batch's generations to `samples` until it holds `limit` (always the set's first ones)."""
    for prompt, completion, reference in zip(batch["prompts"], completions, batch["references"]):
        if len(samples) >= limit:
            return
        value = score(completion, reference) if score and reference is not None else None
        samples.append({"prompt": prompt, "generated": completion, "reference": reference, "score": value})


def log_generations(trainer, key: str, rows: list[dict]) -> None:
    """Log `rows` (prompt, generated, reference, score) under `key` at the current step.

    Loggers with tables (W&B) get a Table, so the dashboard shows the same prompts epoch after
    epoch; every logger with a run directory also gets the rows appended to `generations.jsonl`.
    """
    step = trainer.global_step
    for logger in trainer.loggers:
        if hasattr(logger, "log_table"):
            logger.log_table(
                key=key, columns=COLUMNS, data=[[_cell(r[c]) for c in COLUMNS] for r in rows], step=step
            )
        folder = run_directory(logger)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "generations.jsonl", "a", encoding="utf-8") as f:
                for row in rows:
                    f.write(
                        json.dumps({"step": step, "set": key.split("/")[0], **row}, ensure_ascii=False) + "\n"
                    )


def _cell(value):
    """A table cell: several metrics' scores of one generation as one text ("exact_match 1, chrf 0.83")."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.3g}" for k, v in value.items())
    return value
