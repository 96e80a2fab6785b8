"""Tokenizer loading shared by the model and the data modules."""

from __future__ import annotations

from modules.model_source import ModelSourceError, describe_load_failure, resolve_model_source


def load_tokenizer(source: str, trust_remote_code: bool = False):
    """Load a tokenizer with a pad token and left padding, as batched generation needs.

    Args:
        source: a model source as configs name it (embedded short name, local directory, hub id).
        trust_remote_code: allow tokenizer code from the hub.
    """
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            resolve_model_source(source), trust_remote_code=trust_remote_code
        )
    except OSError as error:
        raise ModelSourceError(describe_load_failure(source, error)) from error
    if tokenizer.pad_token is None:
        # Safe because labels are built explicitly: the EOS that ends a completion stays trained.
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer
