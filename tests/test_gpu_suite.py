"""bench/gpu_suite.py: where no GPU is, it starts nothing and says so; where one is, it reports pytest's
results."""

import importlib.util
import json

import torch

from tests.helpers import ROOT


def load_suite():
    spec = importlib.util.spec_from_file_location("gpu_suite", ROOT / "bench" / "gpu_suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gpu_suite_skips_cleanly_without_a_gpu(tmp_path, monkeypatch, capsys):
    suite = load_suite()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(suite, "run_suite", lambda *args: (_ for _ in ()).throw(AssertionError("ran tests")))
    assert suite.main(["--out", str(tmp_path / "gpu.json")]) == 0
    results = json.loads((tmp_path / "gpu.json").read_text(encoding="utf-8"))
    assert results["status"] == "skipped" and "no CUDA device" in results["reason"] and results["tests"] == []
    assert results["environment"]["torch"] == torch.__version__
    assert "gpu suite: skipped (no CUDA device" in capsys.readouterr().out


def test_the_gpu_suite_reads_each_outcome_from_pytests_report(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_gpu" name="test_a" time="12.34"/>'
        '<testcase classname="tests.test_gpu" name="test_b" time="1.0"><failure message="assert 1 == 2">trace'
        "</failure></testcase>"
        '<testcase classname="tests.test_gpu" name="test_c" time="0"><skipped message="needs a GPU with '
        'bf16"/>'
        "</testcase></testsuite></testsuites>",
        encoding="utf-8",
    )
    tests = load_suite().read_junit(report)
    assert [(t["test"], t["outcome"], t["seconds"], t["message"]) for t in tests] == [
        ("test_gpu::test_a", "passed", 12.3, None),
        ("test_gpu::test_b", "failed", 1.0, "assert 1 == 2"),
        ("test_gpu::test_c", "skipped", 0.0, "needs a GPU with bf16"),
    ]
