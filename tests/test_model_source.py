"""Where a model comes from: local paths, short names, remote code only when asked."""

from pathlib import Path

import pytest

from lit.cli import cli_main
from modules.causal_lm import CausalLM
from modules.model_source import ModelSourceError, resolve_model_source
from tests.helpers import TINY_MISTRAL


def test_missing_model_path_says_so(tmp_path):
    with pytest.raises(ModelSourceError, match="does not exist"):
        resolve_model_source(str(tmp_path / "no-model"))
    with pytest.raises(ModelSourceError, match="has no config.json"):
        resolve_model_source(str(tmp_path))


def test_unknown_short_name_says_so(tiny_fit_args):
    with pytest.raises(
        ValueError,
        match="model 'smollm9': it is not an embedded short name \\(known: smollm2-135m-instruct\\)",
    ):
        cli_main(tiny_fit_args + ["--model.init_args.model", "smollm9", "--data.init_args.num_examples", "8"])


def test_remote_code_is_off_unless_a_config_turns_it_on(tmp_path, monkeypatch):
    import transformers

    seen = {}

    class Stop(Exception):
        pass

    def record(name):
        def from_pretrained(*args, **kwargs):
            seen[name] = kwargs.get("trust_remote_code")
            raise Stop

        return from_pretrained

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", record("model"))
    with pytest.raises(Stop):
        CausalLM(model=TINY_MISTRAL).configure_model()
    monkeypatch.setattr(
        "datamodules.prompt_completion.load_tokenizer", lambda source, **kw: record("tokenizer")(**kw)
    )
    for flag, expected in (([], False), (["--model.init_args.trust_remote_code", "true"], True)):
        with pytest.raises(Stop):
            cli_main(
                [
                    "fit",
                    "--config",
                    "configs/tiny/sums.yaml",
                    "--trainer.default_root_dir",
                    str(tmp_path),
                    *flag,
                ]
            )
        assert seen == {"model": False, "tokenizer": expected}  # the data module follows the model's setting
    assert not [
        p
        for p in Path("configs").rglob("*.yaml")
        if "trust_remote_code: true" in p.read_text(encoding="utf-8")
    ]
