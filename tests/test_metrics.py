"""Metrics named in a config: a user's own function or torchmetrics Metric, bad names, keys beside the
task's own, per-example scores, the pre-flight on references, and YAML through the CLI (the built-ins on
good and bad output: test_text_metrics.py)."""

import pytest
import torch
from torchmetrics import Metric

from datamodules.metrics import MetricSpec, NamedMetrics
from datamodules.prompt_completion import PromptCompletionDataModule
from datamodules.records import DataError
from datamodules.sums import SumsDataModule
from tests.helpers import TINY_MISTRAL, write_jsonl


def value(spec, predictions, references):
    """The logged value(s) of one configured metric on these generations."""
    metric = MetricSpec.parse(spec).make()
    metric.update(predictions, references)
    out = metric.compute()
    return {k: float(v) for k, v in out.items()} if isinstance(out, dict) else float(out)


def f1(prediction: str, reference: str) -> float:
    """A user's scoring function: token F1."""
    p, r = prediction.split(), reference.split()
    common = sum(min(p.count(w), r.count(w)) for w in set(p))
    return 0.0 if not common else 2 * common / (len(p) + len(r))


class LengthRatio(Metric):
    """A user's torchmetrics Metric: mean output length over reference length."""

    def __init__(self, cap: float = 10.0):
        super().__init__()
        self.cap = cap
        self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, predictions, references):
        for p, r in zip(predictions, references):
            self.total += min(self.cap, len(p) / max(1, len(r)))
            self.count += 1

    def compute(self):
        return self.total / self.count


def test_a_users_function_and_metric_by_class_path():
    assert value({"class_path": "tests.test_metrics.f1"}, ["a b c", ""], ["a b d", "a"]) == pytest.approx(
        1 / 3
    )
    assert (
        value(
            {"class_path": "tests.test_metrics.LengthRatio", "init_args": {"cap": 2.0}},
            ["aaaa", ""],
            ["a", "a"],
        )
        == 1.0
    )
    named = NamedMetrics(
        [
            MetricSpec.parse({"class_path": "tests.test_metrics.LengthRatio"}),
            MetricSpec.parse({"class_path": "tests.test_metrics.f1", "key": "f1"}),
        ]
    )
    # Per example: a function scores itself; a Metric scores the one example.
    assert named.scores("a b", "a b c d") == {
        "length_ratio": pytest.approx(3 / 7),
        "f1": pytest.approx(2 / 3),
    }
    for bad, says in (
        ("nope", "unknown metric 'nope'"),
        ({"class_path": "tests.nowhere.f"}, "cannot import"),
        ({"class_path": "tests.helpers.ROOT"}, "neither a torchmetrics Metric nor a scoring function"),
        ({"class_path": "tests.test_metrics.f1", "cap": 1}, "unknown setting"),
    ):
        with pytest.raises(ValueError, match=says):
            MetricSpec.parse(bad)
    with pytest.raises(ValueError, match="log under the same key"):
        NamedMetrics([MetricSpec.parse("chrf"), MetricSpec.parse({"name": "exact_match", "key": "chrf"})])


def test_configured_metrics_log_beside_the_tasks_own_and_score_each_example():
    data = SumsDataModule(
        tokenizer=TINY_MISTRAL, metrics=["exact_match", {"name": "number_error", "key": "digits"}]
    )
    metric = data.task.build_metric()
    metric.update(["nueve más tres", "12"], ["12", "12"])
    values = {k: float(v) for k, v in metric.compute().items()}
    assert values == {
        "mae": 6.0,
        "exact": 0.5,
        "parse_rate": 0.5,  # SumMAE, the task's own
        "exact_match": 0.5,
        "digits": 6.0,
        "digits_found": 0.5,
    }
    assert data.task.score_of("nueve más tres", "12") == {"score": 0.0, "exact_match": 0.0, "digits": 12.0}
    assert (
        SumsDataModule(tokenizer=TINY_MISTRAL).task.score_of("nueve más tres", "12") == 0.0
    )  # no metrics: as before
    with pytest.raises(ValueError, match=r"key\(s\) \['exact'\] are the task's own metric's"):
        SumsDataModule(
            tokenizer=TINY_MISTRAL, metrics=[{"name": "exact_match", "key": "exact"}]
        ).task.build_metric()


def test_the_preflight_refuses_references_a_metric_cannot_score(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", {"prompt": "How many?", "completion": "12"})
    val = write_jsonl(
        tmp_path / "val.jsonl",
        {"prompt": "How many?", "completion": "12"},
        {"prompt": "How many?", "completion": "a dozen"},
    )
    data = PromptCompletionDataModule(
        tokenizer=TINY_MISTRAL, train_file=train, val_file=val, metrics=["number_error"]
    )
    with pytest.raises(
        DataError, match=rf"{val}:2: the val example's reference 'a dozen' has no number written with digits"
    ):
        data.setup("fit")


OVERLAY = """
data:
  init_args:
    metrics:
      - exact_match
      - {name: regex_match, pattern: "(\\\\d+)", key: digits}
      - class_path: tests.test_metrics.f1
        key: f1
"""


def test_metrics_named_in_yaml_are_logged_by_validation(tmp_path, one_thread):
    from lit.cli import cli_main

    (tmp_path / "metrics.yaml").write_text(OVERLAY, encoding="utf-8")
    cli = cli_main(
        [
            "fit",
            "--config",
            "configs/tiny/sums.yaml",
            "--config",
            "configs/debug.yaml",
            "--config",
            str(tmp_path / "metrics.yaml"),
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.enable_progress_bar",
            "false",
            "--model.init_args.max_new_tokens",
            "4",
        ]
    )
    logged = set(cli.trainer.callback_metrics)
    assert {"val/mae", "val/exact", "val/exact_match", "val/digits", "val/f1", "val/hit_limit"} <= logged
    assert cli.datamodule.metric_specs[1].settings == {"pattern": r"(\d+)"}
