"""What the FSDP and DeepSpeed tests both check of a 2-process run (tests/helpers/strategy_runs.py), against
the
same checkpoint read in one process."""

import pytest
import torch

from lit.cli import cli_main
from tests.helpers.precision import close
from tests.helpers.strategy_runs import TINY
from tests.helpers.tiny_runs import MODES

METRICS = ("val/loss", "val/mae", "val/exact", "val/parse_rate", "val/hit_limit")


def one_process(mode: str, ckpt: str, precision: str):
    """`lit validate` of a checkpoint in this one process: the reference the 2-process figures must meet."""
    return cli_main(["validate", *TINY, *MODES[mode], "--trainer.precision", precision, "--ckpt_path", ckpt])


def assert_scores_like_one_process(run: dict, one, precision: str) -> None:
    """validate in two processes, and fit's own last validation, give the one-process figures and generations
    (the loss within the precision's rounding: two processes sum it in another order)."""
    one_metrics = {k: float(v) for k, v in one.trainer.callback_metrics.items()}
    tolerance = close(precision)
    for key in METRICS:
        expected = pytest.approx(one_metrics[key], rel=max(tolerance["rtol"], 1e-4), abs=1e-5)
        assert run["validate"][key] == expected, key
        assert run["fit"][key] == expected, key
    # The same greedy generations: process 0 scored held-out examples 0, 2, 4, ... of the 16.
    assert len(one.model.evaluation.samples["val"]) == 16
    assert run["samples"] == one.model.evaluation.samples["val"][0::2]


def assert_holds_adapter_or_whole_weights(checkpoint: dict, mode: str, model) -> None:
    """The adapter only with LoRA, every weight without; whole tensors, never one process's shard."""
    state = checkpoint["state_dict"]
    if mode == "full":
        expected = model.state_dict()
        assert not checkpoint.get("adapter_only")
    else:
        expected = {k: v for k, v in model.state_dict().items() if k in model._trainable_keys()}
        assert checkpoint["adapter_only"] and all("lora_" in k for k in state)
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in expected.items()}


def assert_export_works(ckpt: str, mode: str, out) -> None:
    import json

    cli_main(["export", "--ckpt_path", ckpt, "--out", str(out)])
    check = json.loads((out / "export_check.json").read_text(encoding="utf-8"))
    assert check["same_greedy_output"] == check["prompts"] == 8
    assert (out / "merged" / "config.json").is_file()
    assert (out / "adapter").is_dir() == (mode != "full")


def load(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)
