"""The GPU suite in one command: runs the `gpu` tests (tests/test_gpu.py: DDP, FSDP with QLoRA, DeepSpeed
ZeRO-2, bf16 autocast, the Mistral recipe on a tiny Mistral) and writes their results as JSON.

    python -m bench.gpu_suite --out runs/gpu_suite.json

Sized for one GPU in under 8 minutes (`--timeout`, default 480 s, stops it there). Without a CUDA device it
starts nothing, writes `"status": "skipped"` with the reason, and exits 0. The JSON holds the device, the
versions, and per test its outcome, seconds and, for a failure or skip, the message.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def environment() -> dict:
    """What the figures were measured on."""
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda}
    for package in ("lightning", "transformers", "peft", "bitsandbytes", "deepspeed"):
        try:  # the installed version, without importing the package (DeepSpeed takes seconds)
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = None
    if torch.cuda.is_available():
        info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["bf16"] = torch.cuda.is_bf16_supported()
    return info


def read_junit(path: Path) -> list[dict]:
    """Each test case of a pytest `--junitxml` report: name, outcome, seconds, and the message of a failure or
    skip."""
    tests = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", None
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (found.get("message") or found.text or "").strip()[:2000]
                break
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        tests.append(
            {
                "test": name,
                "outcome": outcome,
                "seconds": round(float(case.get("time", 0)), 1),
                "message": message,
            }
        )
    return tests


def run_suite(timeout: float, pytest_args: list[str]) -> dict:
    """`pytest -m gpu` in a child process, its results read back from a JUnit report."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "gpu",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={report}",
            *pytest_args,
        ]
        start = time.perf_counter()
        try:
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
            returncode, tail = result.returncode, (result.stdout + result.stderr)[-4000:]
        except subprocess.TimeoutExpired as stopped:
            returncode, tail = None, f"stopped after {timeout:g} s: {(stopped.stdout or b'')[-2000:]!r}"
        seconds = round(time.perf_counter() - start, 1)
        tests = read_junit(report) if report.is_file() else []
    counts = {k: sum(t["outcome"] == k for t in tests) for k in ("passed", "failed", "error", "skipped")}
    status = (
        "passed" if returncode == 0 and counts["passed"] else ("timeout" if returncode is None else "failed")
    )
    return {
        "status": status,
        "returncode": returncode,
        "seconds": seconds,
        "counts": counts,
        "tests": tests,
        "output_tail": tail,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="runs/gpu_suite.json", help="where the JSON results go")
    parser.add_argument("--timeout", type=float, default=480, help="seconds before the suite is stopped")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (default: the tests folder)")
    options = parser.parse_args(argv)

    import torch

    results: dict = {"suite": "pytest -m gpu", "environment": environment()}
    if not torch.cuda.is_available():
        results.update(status="skipped", reason="no CUDA device: the GPU suite needs one", tests=[])
    else:
        results.update(run_suite(options.timeout, options.pytest_args or ["tests"]))
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    counts = results.get("counts", {})
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or results.get("reason", "")
    print(f"gpu suite: {results['status']} ({summary}) in {results.get('seconds', 0)} s; results in {out}")
    return 0 if results["status"] in ("passed", "skipped") else 1


if __name__ == "__main__":
    sys.exit(main())
