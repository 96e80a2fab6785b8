"""The DPO speed benchmark runs both systems on the same pairs and writes its record (tiny model)."""

import json

import pytest

from bench import vs_trl_dpo


def test_the_dpo_benchmark_times_lit_and_trl_on_the_same_pairs(tmp_path):
    pytest.importorskip("trl")
    out = tmp_path / "record.json"
    args = ["--model", "tests/assets/tiny-mistral", "--config", "configs/tiny/dpo.yaml", "--steps", "2"]
    args += ["--warmup", "1", "--repeats", "1", "--precision", "32-true", "--threads", "1", "--out", str(out)]
    vs_trl_dpo.main(args)
    record = json.loads(out.read_text(encoding="utf-8"))
    for system in ("lit", "trl"):
        [run] = record["runs"][system]
        assert len(run["step_s"]) == 2 and run["pairs_per_s"] > 0  # the timed steps only, after the warm-up
    assert record["settings"]["batch_size"] == 4 and record["lit_over_trl"] > 0
