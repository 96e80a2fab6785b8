"""Callbacks the configs use."""

from __future__ import annotations

import json
from pathlib import Path

from lightning.pytorch.callbacks import BasePredictionWriter


class JsonlPredictionWriter(BasePredictionWriter):
    """Writes `predict` results as JSONL: prompt, completion, reference and score.

    Args:
        path: output file; with several processes each rank writes `path` with a `.rankN` suffix.
    """

    def __init__(self, path: str = "predictions.jsonl"):
        super().__init__(write_interval="epoch")
        self.path = path

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        out = Path(self.path)
        if trainer.world_size > 1:
            out = out.with_name(f"{out.name}.rank{trainer.global_rank}")
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8") as f:
            for rows in predictions:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"lit: wrote {sum(len(r) for r in predictions)} predictions to {out}")
