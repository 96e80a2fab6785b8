"""Length-grouped batches: every example once, an order fixed by the seed, resumable, sharded."""

import lightning as L
import torch

from datamodules import JavaInstructDataModule
from datamodules.length_grouped import LengthGroupedSampler
from tests.helpers import TINY_GPT2


def lengths(n: int = 1000, seed: int = 0) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(20, 120, (n,), generator=generator).tolist()


def test_length_grouped_batches_hold_every_example_once_in_similar_lengths():
    sizes = lengths()
    sampler = LengthGroupedSampler(sizes, batch_size=8, seed=0, group_batches=25)
    order = list(sampler)
    assert sorted(order) == list(range(len(sizes))) and len(sampler) == len(sizes)
    batches = [order[i : i + 8] for i in range(0, len(order), 8)]
    assert batches == sampler.batches()
    spread = [max(sizes[i] for i in b) - min(sizes[i] for i in b) for b in batches]
    random_spread = [
        max(sizes[i] for i in b) - min(sizes[i] for i in b)
        for b in (list(range(i, i + 8)) for i in range(0, 1000, 8))
    ]
    assert sum(spread) / len(spread) < 0.1 * sum(random_spread) / len(random_spread)
    assert max(sizes[i] for i in batches[0]) == max(sizes)  # the longest batch first: memory fails early
    positions = sum(len(b) * max(sizes[i] for i in b) for b in batches)
    assert sum(sizes) / positions > 0.97  # real tokens per padded position


def test_length_grouped_order_is_fixed_by_seed_and_epoch():
    sizes = lengths(203)  # a short last batch
    first, again = LengthGroupedSampler(sizes, 8, seed=3), LengthGroupedSampler(sizes, 8, seed=3)
    assert list(first) == list(again)
    assert list(first) != list(LengthGroupedSampler(sizes, 8, seed=4))
    again.set_epoch(1)
    assert list(again) != list(first) and sorted(again) == sorted(first)
    assert len(first.batches()[-1]) == 203 % 8  # the short batch stays last, where the loader cuts it


def test_length_grouped_batches_deal_whole_batches_to_processes_and_resume_in_place():
    sizes = lengths(195)  # 24 full batches and a short one: one full batch repeats to even the count
    shares = []
    for rank in range(2):
        sampler = LengthGroupedSampler(sizes, 8, seed=5)
        sampler.num_replicas, sampler.rank = 2, rank  # as under DDP with two processes
        order = list(sampler)
        assert len(order) == len(sampler)
        shares.append([order[i : i + 8] for i in range(0, len(order), 8)])
        # a resume 3 batches in continues with exactly the rest of this process's stream
        sampler.start = 3 * 8
        assert list(sampler) == order[3 * 8 :]
        assert list(sampler) == order  # the skip applies once
    assert len(shares[0]) == len(shares[1]) == 13  # the same number of steps on each process
    dealt = [b for pair in zip(*shares) for b in pair]
    whole = LengthGroupedSampler(sizes, 8, seed=5)
    whole.num_replicas = 2
    assert dealt == whole.batches()  # whole length-grouped batches, batch i to process i % 2
    assert sorted({i for b in dealt for i in b}) == list(range(195)) and len(dealt) == 26  # every example
    assert [len(b) for b in shares[0] + shares[1]].count(195 % 8) == 1 and len(
        shares[0][-1] + shares[1][-1]
    ) == 8 + 195 % 8


def train_batches(seed: int, group_by_length: bool) -> list[list[str]]:
    L.seed_everything(seed)
    data = JavaInstructDataModule(
        tokenizer=TINY_GPT2,
        num_examples=64,
        num_val_examples=2,
        batch_size=8,
        compile_check=False,
        group_by_length=group_by_length,
    )
    data.setup("fit")
    return [batch["prompts"] for batch in data.train_dataloader()]


def test_training_batches_are_grouped_by_length_and_repeat_with_the_seed():
    grouped = train_batches(0, group_by_length=True)
    assert grouped == train_batches(0, group_by_length=True)
    assert grouped != train_batches(1, group_by_length=True)
    assert sorted(p for b in grouped for p in b) == sorted(p for b in train_batches(0, False) for p in b)

    data = JavaInstructDataModule(
        tokenizer=TINY_GPT2, num_examples=64, num_val_examples=2, batch_size=8, compile_check=False
    )
    data.setup("fit")
    L.seed_everything(0)
    real = sum(int(b["attention_mask"].sum()) for b in data.train_dataloader())
    padded = sum(b["attention_mask"].numel() for b in data.train_dataloader())
    assert real / padded > 0.9
