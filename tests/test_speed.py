"""The speed changes keep the results: same loss and gradients, every example once, a seeded order.

Correctness only; the speed itself is measured by bench/vs_hf.py (docs/benchmarks.md).
"""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from datamodules import JavaInstructDataModule
from datamodules.length_grouped import LengthGroupedSampler
from lit.cli import cli_main
from modules.loss import loss_at_positions, trained_positions
from modules.causal_lm import CausalLM
from modules.peft_config import LoraArgs
from tests.conftest import ROOT, TINY_MISTRAL
from tests.precision import PRECISIONS, autocast, close, greedy_choice_margins, module_kwargs, random_adapter_module

TINY_GPT2 = str(ROOT / "tests" / "assets" / "tiny-gpt2")


def java_batch(tokenizer: str, size: int = 8) -> dict:
    data = JavaInstructDataModule(tokenizer=tokenizer, num_examples=size, num_val_examples=2, batch_size=size,
                                  compile_check=False)  # fmt: skip
    data.setup("fit")
    return data.collate(data.datasets["train"])


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("path", [TINY_MISTRAL, TINY_GPT2])
def test_training_loss_and_gradients_equal_the_full_computation(path, precision):
    """Logits only at trained positions, and no attention mask on right-padded batches: same loss."""
    torch.manual_seed(0)
    module = CausalLM(model=path, lora=LoraArgs(r=4, alpha=8, dropout=0.0, target_modules="all-linear"),
                      **module_kwargs(precision))  # fmt: skip
    module.configure_model()
    module.model.eval()  # no dropout (GPT-2's config has 0.1): both computations see the same network
    trainable = [p for p in module.parameters() if p.requires_grad]
    for p in trainable:  # LoRA B starts at zero; make the adapter matter
        torch.nn.init.normal_(p, std=0.02)
    batch = java_batch(path)
    assert (batch["attention_mask"] == 0).any() and (batch["labels"][:, 1:] == -100).any()  # padding and prompts
    assert 0 < len(batch["logit_positions"]) < batch["input_ids"].shape[1] - 1  # the prompt start is left out

    with autocast(precision):
        full = module.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        fast = module._loss(batch)
        assert fast.dtype == full.dtype == torch.float32  # the loss itself is fp32 in both precisions
        torch.testing.assert_close(fast, full, **close(precision, float(full)))
        for a, b in zip(torch.autograd.grad(fast, trainable), torch.autograd.grad(full, trainable)):
            torch.testing.assert_close(a, b, **close(precision, float(b.abs().max())))
        module.trained_logits_only = False
        torch.testing.assert_close(module._loss(batch), full, **close(precision, float(full)))
        positions = batch["logit_positions"]
        torch.testing.assert_close(
            loss_at_positions(module.model, batch["input_ids"], batch["attention_mask"], batch["labels"], positions),
            full, **close(precision, float(full)),
        )  # fmt: skip


def test_trained_positions_are_where_some_row_trains_its_next_token():
    labels = torch.tensor([[-100, -100, 5, 6, -100], [-100, -100, -100, 7, 8]])
    # next-token labels: row 0 at positions 1, 2; row 1 at positions 2, 3
    assert trained_positions(labels).tolist() == [1, 2, 3]


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
    random_spread = [max(sizes[i] for i in b) - min(sizes[i] for i in b) for b in (list(range(i, i + 8)) for i in range(0, 1000, 8))]
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
    assert [len(b) for b in shares[0] + shares[1]].count(195 % 8) == 1 and len(shares[0][-1] + shares[1][-1]) == 8 + 195 % 8


def train_batches(seed: int, group_by_length: bool) -> list[list[str]]:
    L.seed_everything(seed)
    data = JavaInstructDataModule(tokenizer=TINY_GPT2, num_examples=64, num_val_examples=2, batch_size=8,
                                  compile_check=False, group_by_length=group_by_length)  # fmt: skip
    data.setup("fit")
    return [batch["prompts"] for batch in data.train_dataloader()]


def test_training_batches_are_grouped_by_length_and_repeat_with_the_seed():
    grouped = train_batches(0, group_by_length=True)
    assert grouped == train_batches(0, group_by_length=True)
    assert grouped != train_batches(1, group_by_length=True)
    assert sorted(p for b in grouped for p in b) == sorted(p for b in train_batches(0, False) for p in b)

    data = JavaInstructDataModule(tokenizer=TINY_GPT2, num_examples=64, num_val_examples=2, batch_size=8, compile_check=False)
    data.setup("fit")
    L.seed_everything(0)
    real = sum(int(b["attention_mask"].sum()) for b in data.train_dataloader())
    padded = sum(b["attention_mask"].numel() for b in data.train_dataloader())
    assert real / padded > 0.9


class CountHostReads(Callback):
    """Counts reads of tensor values (each one a device sync on a GPU) inside training steps that log nothing."""

    every, reads, active = 5, 0, False

    # From a step's start to the next one's, so Lightning's own work after the step's hooks counts;
    # not inside the optimizer, whose step counters live on the host by design.
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        CountHostReads.active = (trainer.global_step + 1) % self.every != 0

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.was_active, CountHostReads.active = CountHostReads.active, False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        CountHostReads.active = self.was_active

    def on_train_epoch_end(self, trainer, pl_module):
        CountHostReads.active = False


def test_training_steps_read_no_tensor_values_between_logging_steps(tiny_fit_args, monkeypatch):
    # The class the CLI instantiates by its path (pytest may import this file under another name).
    from tests.test_speed import CountHostReads as counter

    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            counter.reads += counter.active
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    counter.reads = 0
    cli = cli_main(tiny_fit_args + [
        "--trainer.max_epochs", "1", "--trainer.log_every_n_steps", str(counter.every),
        "--trainer.enable_progress_bar", "true", "--trainer.limit_val_batches", "0",
        "--trainer.callbacks+=tests.test_speed.CountHostReads",
        "--model.init_args.finite_check", "log",  # what "auto" picks on a GPU; "step" reads every loss
    ])  # fmt: skip
    assert cli.trainer.global_step > counter.every  # steps on both sides of a logging step
    assert counter.reads == 0


def test_corpus_tokens_are_cached_across_runs(tmp_path, monkeypatch):
    from datamodules import JavaCorpusDataModule
    from modules.tokenizer import load_tokenizer

    monkeypatch.setenv("LIT_CACHE", str(tmp_path))
    texts = ["class A { int a; }", "interface B { void b(); }"] * 20
    first = JavaCorpusDataModule(tokenizer=TINY_GPT2, block_size=16)
    first.tokenizer = load_tokenizer(TINY_GPT2)
    blocks = first.tokenized_blocks(texts)
    assert len(list((tmp_path / "tokens").glob("*.pt"))) == 1

    again = JavaCorpusDataModule(tokenizer=TINY_GPT2, block_size=16)
    again.tokenizer = load_tokenizer(TINY_GPT2)
    monkeypatch.setattr(type(again.tokenizer), "__call__", lambda *a, **k: pytest.fail("tokenized again"))
    assert torch.equal(again.tokenized_blocks(texts), blocks)
    again.block_size = 8  # another packing is another entry
    with pytest.raises(pytest.fail.Exception, match="tokenized again"):
        again.tokenized_blocks(texts)


@pytest.mark.parametrize("p", [0.05, 0.25, 0.5])  # sparse masks (geometric gaps) up to 0.25, thresholded uniforms above
def test_fast_dropout_drops_each_element_independently_with_probability_p_and_rescales(p):
    from modules.lora_dropout import FastDropout, geometric_gaps, use_fast_dropout

    torch.manual_seed(0)
    layer = FastDropout(p)
    x = torch.ones(400, 1000, requires_grad=True)
    out = layer(x)
    kept = out != 0
    n = kept.numel()
    assert abs(kept.float().mean().item() - (1 - p)) < 4 * (p * (1 - p) / n) ** 0.5  # within 4 sigma
    for part in (kept[:, :10], kept[:, -10:], kept[:200], kept[200:]):  # no region favoured (the gaps cover it all)
        assert abs(part.float().mean().item() - (1 - p)) < 6 * (p * (1 - p) / part.numel()) ** 0.5
    flat = kept.flatten().float()  # independent neighbours: P(both kept) = (1 - p)^2
    assert abs((flat[1:] * flat[:-1]).mean().item() - (1 - p) ** 2) < 0.005
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    out.sum().backward()  # the gradient goes through the kept elements only, scaled
    torch.testing.assert_close(x.grad, kept.float() / (1 - p))
    assert not torch.equal(out, layer(x))  # a new mask each call
    torch.manual_seed(1)
    first = layer(x)
    torch.manual_seed(1)
    assert torch.equal(first, layer(x))  # torch's seed fixes the mask
    layer.eval()
    assert torch.equal(layer(torch.ones(3, 4)), torch.ones(3, 4))
    gaps = geometric_gaps(200_000, p).double()  # Geometric(p): mean 1/p, variance (1-p)/p^2, P(1) = p
    assert gaps.min() >= 1 and abs(gaps.mean().item() * p - 1) < 0.02
    assert abs(gaps.var().item() * p**2 / (1 - p) - 1) < 0.05 and abs((gaps == 1).double().mean().item() - p) < 0.005

    module = CausalLM(model=TINY_MISTRAL, lora=LoraArgs(r=4, alpha=8, dropout=0.1, target_modules="all-linear"))
    module.configure_model()
    layers = [m for m in module.model.modules() if isinstance(m, FastDropout)]
    assert len(layers) == 2 * 7 and all(m.p == 0.1 for m in layers)  # 7 linear layers x 2 blocks
    assert use_fast_dropout(module.model) == 0  # nothing left to replace


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("path", [TINY_MISTRAL, TINY_GPT2])
def test_generation_that_drops_ended_rows_gives_transformers_greedy_tokens(path, precision):
    from modules.generation import greedy_generate

    torch.manual_seed(0)
    module = random_adapter_module(path, precision)
    batch = java_batch(path)
    prompts, mask, pad = batch["prompt_ids"], batch["prompt_mask"], module.tokenizer.pad_token_id
    assert (mask == 0).any()  # left padding
    with autocast(precision):
        reference = module.model.generate(input_ids=prompts, attention_mask=mask, max_new_tokens=24, do_sample=False,
                                          pad_token_id=pad, eos_token_id=module.tokenizer.eos_token_id)  # fmt: skip
    # As EOS, the generated token whose first use varies most across rows: rows then end at
    # different steps, so some leave the batch mid-way.
    new = reference[:, prompts.shape[1] :].tolist()
    eos = max({t for row in new for t in row}, key=lambda t: len({row.index(t) for row in new if t in row}))
    with autocast(precision):
        reference = module.model.generate(input_ids=prompts, attention_mask=mask, max_new_tokens=24, do_sample=False,
                                          pad_token_id=pad, eos_token_id=eos)[:, prompts.shape[1] :]  # fmt: skip
        ended_at = [row.tolist().index(eos) if eos in row else None for row in reference]
        assert len(set(ended_at)) > 2
        assert torch.equal(greedy_generate(module.model, prompts, mask, 24, eos, pad), reference)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_generation_with_merged_lora_gives_the_same_tokens_and_restores_the_weights_exactly(precision):
    from modules.merged_lora import mergeable_layers, merged_lora
    from modules.peft_config import QuantArgs

    torch.manual_seed(0)
    module = CausalLM(model=TINY_MISTRAL, lora=LoraArgs(r=4, alpha=8, dropout=0.1, target_modules="all-linear"),
                      **module_kwargs(precision))  # fmt: skip
    module.configure_model()
    for p in module.parameters():  # a non-zero adapter: merging must change what the base layers compute
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.2)
    batch = java_batch(TINY_MISTRAL)
    ids, mask = batch["prompt_ids"], batch["prompt_mask"]
    module.model.eval()
    before = {name: (p, p.detach().clone()) for name, p in module.model.named_parameters()}
    with torch.no_grad(), autocast(precision):
        unmerged = module.model(input_ids=ids, attention_mask=mask).logits.float()
        with merged_lora(module.model) as count:
            assert count == 2 * 7  # every adapted linear layer of the 2 blocks
            merged = module.model(input_ids=ids, attention_mask=mask).logits.float()
        with module.model.disable_adapter():
            without_adapter = module.model(input_ids=ids, attention_mask=mask).logits.float()
    error, effect = (merged - unmerged).abs(), (without_adapter - unmerged).abs()
    if precision == "32-true":
        torch.testing.assert_close(merged, unmerged, rtol=1e-4, atol=1e-4)
        assert effect.max() > 1e-2  # the adapter matters
    else:  # the merged weight is rounded to bf16 once more: errors of bf16's size, far below the adapter's effect
        assert error.mean() < 0.05 * effect.mean() and error.max() < 0.25 * effect.max()
    for name, p in module.model.named_parameters():  # the same tensors, bit for bit
        assert p is before[name][0] and torch.equal(p, before[name][1]), name
    assert all(not m.disable_adapters for m in mergeable_layers(module.model))

    with autocast(precision):
        module.merge_lora_for_generation = False
        slow = module.generate(ids, mask)
        module.merge_lora_for_generation = True
        if precision == "32-true":
            assert module.generate(ids, mask) == slow
        else:  # the same greedy choices except at ties within the merged weights' rounding error
            new = module._generate_ids(ids, mask)
            margins = greedy_choice_margins(module.model, ids, mask, new, module.tokenizer.eos_token_id)
            assert margins.max() <= 2 * error.max()

    quantized = CausalLM(model=TINY_MISTRAL, quantization=QuantArgs(), lora=LoraArgs(target_modules="all-linear"))
    quantized.configure_model()
    assert mergeable_layers(quantized.model) == []  # 4-bit base layers are never merged


@pytest.mark.parametrize("precision", PRECISIONS)
def test_beam_search_finds_sequences_at_least_as_probable_as_greedy_and_more_where_they_differ(precision):
    from modules.generation import beam_generate, greedy_generate

    torch.manual_seed(0)
    module = random_adapter_module(TINY_GPT2, precision)
    batch = java_batch(TINY_GPT2)
    prompts, mask, pad = batch["prompt_ids"], batch["prompt_mask"], module.tokenizer.pad_token_id
    eos, steps = module.tokenizer.eos_token_id, 6

    def log_prob(new: torch.Tensor) -> torch.Tensor:  # of each row's new tokens, teacher-forced
        ids = torch.cat([prompts, new], 1)
        full = torch.cat([mask, torch.ones_like(new)], 1)
        positions = (full.cumsum(-1) - 1).clamp(min=0)
        logits = module.model(input_ids=ids, attention_mask=full, position_ids=positions).logits.float()
        chosen = logits[:, prompts.shape[1] - 1 : -1].log_softmax(-1).gather(-1, new[..., None])[..., 0]
        return chosen.sum(1)

    with autocast(precision):
        greedy = greedy_generate(module.model, prompts, mask, steps, eos, pad)
        beam = beam_generate(module.model, prompts, mask, steps, eos, pad, num_beams=4, length_penalty=0.0)
        assert greedy.shape == beam.shape == (prompts.shape[0], steps)  # no EOS within 6 steps here
        assert not (greedy == eos).any() and not (beam == eos).any()
        greedy_lp, beam_lp = log_prob(greedy), log_prob(beam)
        slack = close(precision, float(greedy_lp.abs().max()))["atol"]  # beam scores and ours round differently
        assert (beam_lp >= greedy_lp - slack).all()
        differ = (beam != greedy).any(1)
        assert differ.any() and (beam_lp[differ] > greedy_lp[differ]).all()  # a beam that found better sequences
        assert torch.equal(beam_generate(module.model, prompts, mask, steps, eos, pad, num_beams=1), greedy)

        module.max_new_tokens, module.num_beams = steps, 4  # what validation generates with `num_beams: 4`
        expected = beam_generate(module.model, prompts, mask, steps, eos, pad, num_beams=4)
        assert module.generate(prompts, mask) == module.tokenizer.batch_decode(expected, skip_special_tokens=True)
    with pytest.raises(ValueError, match="num_beams"):
        CausalLM(model=TINY_GPT2, num_beams=0)
