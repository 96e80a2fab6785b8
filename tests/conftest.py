import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import ROOT  # noqa: E402  (after the path: the repository's packages, not an install)

# No test may reach a model hub or a tracker's server.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
# No test depends on the host's CPU class: `auto` resolves as on a CPU without native bf16 (32-true) unless a
# test or the caller says otherwise. CI runs the `cpu_class` tests again with LIT_NATIVE_BF16=1 (.ci/run).
os.environ.setdefault("LIT_NATIVE_BF16", "0")


@pytest.fixture
def javac():
    """A JDK's javac for the tests marked `needs_javac`: skipped without one, except in CI, which must test
    it."""
    if shutil.which("javac") is None:
        if os.environ.get("CI"):
            pytest.fail("javac not found: CI must test the Java metric (.ci/run installs a JDK)")
        pytest.skip("javac not installed")


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch):
    """Configs name tests/assets/... relative to the repository root, as users run them."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(autouse=True)
def _finish_wandb_runs():
    """A W&B run lives until its process ends; each test gets its own."""
    yield
    if "wandb" in sys.modules and sys.modules["wandb"].run is not None:
        sys.modules["wandb"].finish()


@pytest.fixture
def tiny_fit_args(tmp_path):
    """A fit of the tiny 4-bit + LoRA sums config, writing under tmp_path."""
    return [
        "fit",
        "--config",
        "configs/tiny/sums.yaml",
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_model_summary",
        "false",
    ]


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models: a second CPU thread only adds synchronisation (measured 30x slower per step on a
    busy 2-core machine). Every run in a comparison uses the same setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
