"""Padding-free packing (`packing`): a batch as one row, positions restarting per example, attention
inside each example; the same loss, gradients and training run as the padded batch."""

import pytest
import torch

from datamodules.java import JavaInstructDataModule
from lit.cli import cli_main
from tests.helpers import TINY_GPT2, TINY_MISTRAL
from tests.helpers.precision import PRECISIONS, autocast, close, random_adapter_module
from tests.helpers.tiny_runs import logged_loss_and_lr, tiny_run_args


def _java_items(path: str, size: int = 8, **kwargs) -> tuple[JavaInstructDataModule, list[dict]]:
    data = JavaInstructDataModule(
        tokenizer=path, num_examples=size, num_val_examples=2, batch_size=size, compile_check=False, **kwargs
    )
    data.setup("fit")
    return data, data.datasets["train"]


def test_a_packed_batch_is_one_row_of_the_examples_with_positions_restarting():
    data, items = _java_items(TINY_MISTRAL)
    packed = data.collate_packed(items)
    lengths = [len(i["input_ids"]) for i in items]
    assert len(set(lengths)) > 2  # examples of different lengths: a padded batch would pad
    assert (
        packed["input_ids"].shape
        == packed["labels"].shape
        == packed["position_ids"].shape
        == (1, sum(lengths))
    )
    assert packed["input_ids"][0].tolist() == [t for i in items for t in i["input_ids"]]  # no pad anywhere
    starts = torch.tensor(lengths).cumsum(0)[:-1].tolist()
    assert (packed["position_ids"][0] == 0).nonzero().squeeze(1).tolist() == [0, *starts]
    assert (packed["labels"][0, [0, *starts]] == -100).all()  # no example's first token is trained
    # The same trained tokens as the padded batch, and logits only where they are needed.
    padded = data.collate(items)
    assert (packed["labels"] != -100).sum() == (padded["labels"] != -100).sum()
    assert len(packed["logit_positions"]) == int((packed["labels"][0, 1:] != -100).sum())


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("path", [TINY_MISTRAL, TINY_GPT2])  # rotary and absolute position embeddings
def test_packed_loss_and_gradients_equal_the_padded_batch(path, precision):
    torch.manual_seed(0)
    module = random_adapter_module(path, precision, std=0.02)  # eval mode: no dropout in either
    trainable = [p for p in module.parameters() if p.requires_grad]
    data, items = _java_items(path)
    padded, packed = data.collate(items), data.collate_packed(items)
    with autocast(precision):
        for logits_at_trained_positions in (True, False):
            module.trained_logits_only = logits_at_trained_positions
            expected, loss = module._loss(padded), module._loss(packed)
            torch.testing.assert_close(loss, expected, **close(precision, float(expected)))
            for a, b in zip(torch.autograd.grad(loss, trainable), torch.autograd.grad(expected, trainable)):
                torch.testing.assert_close(a, b, **close(precision, float(b.abs().max())))


def test_attention_stays_inside_each_example_of_a_packed_row():
    torch.manual_seed(0)
    module = random_adapter_module(TINY_MISTRAL, "32-true")
    data, items = _java_items(TINY_MISTRAL, size=3)
    packed = data.collate_packed(items)
    first = len(items[0]["input_ids"])

    def logits(ids):
        return module.model(input_ids=ids, position_ids=packed["position_ids"], use_cache=False).logits[0]

    changed = packed["input_ids"].clone()
    changed[0, :first] = torch.randint(3, 100, (first,))  # another first example
    before, after = logits(packed["input_ids"]), logits(changed)
    assert not torch.allclose(before[:first], after[:first])
    torch.testing.assert_close(after[first:], before[first:], **close("32-true", float(before.abs().max())))


def test_a_packed_training_run_logs_the_padded_run_losses(tmp_path):
    """The tiny sums fit (4-bit + LoRA, no dropout: the same network on both layouts), 3 steps."""
    runs = {}
    for version, packing in (("padded", "false"), ("packed", "true")):
        cli_main(
            tiny_run_args(
                tmp_path,
                "runs",
                version,
                "--trainer.max_epochs",
                "1",
                "--model.init_args.lora.dropout",
                "0.0",
                "--data.init_args.packing",
                packing,
            )
        )
        runs[version] = logged_loss_and_lr(tmp_path, "runs", version)
    assert len(runs["packed"]) == 3 and runs["packed"].keys() == runs["padded"].keys()
    for step, (loss, lr) in runs["padded"].items():
        packed_loss, packed_lr = runs["packed"][step]
        assert packed_lr == lr
        assert packed_loss == pytest.approx(loss, rel=1e-4)  # fp32, after updates from the packed gradients
