"""CausalLM's evaluation: the loss and generated text of every held-out set, scored by its task's
metric, within a memory budget (`modules.eval_memory`)."""

from __future__ import annotations

import torch

from modules.eval_memory import EvalPlanner
from modules.generation import beam_generate, generate_in_chunks, greedy_generate
from modules.generation_log import keep_samples, log_generations
from modules.hardware import precision_dtype
from modules.loss import IGNORE_INDEX, loss_in_row_pieces
from modules.merged_lora import merged_lora
from modules.task import task_of

# Lightning's sanity check validates the untrained model before the first step, only to catch errors
# in the evaluation code; its generations tend to run to max_new_tokens (the sums config's sanity
# check was minutes of CPU before training began). A few tokens run the same code: model, cache,
# decoding, metric.
SANITY_NEW_TOKENS = 4


class Evaluation:
    """Validation, test and generation for `CausalLM` (its model, tokenizer, metrics and settings)."""

    planner: EvalPlanner

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        self._eval_step(batch, self.eval_sets["validate"][dataloader_idx])

    def test_step(self, batch, batch_idx, dataloader_idx: int = 0):
        self._eval_step(batch, self.eval_sets["test"][dataloader_idx])

    def _eval_step(self, batch, name: str) -> None:
        # Weighted by label tokens, so the epoch's loss (and perplexity) is a true per-token mean.
        tokens = (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
        self.losses[name].update(self._eval_loss(batch), weight=tokens)
        if name in self.metrics and "prompt_ids" in batch:
            new = self._generate_ids(batch["prompt_ids"], batch["prompt_mask"])
            self.hit_limit[name].update((new != self.tokenizer.eos_token_id).all(1).float())
            completions = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            self.metrics[name].update(completions, batch["references"])
            score = task_of(self.trainer.datamodule).score
            keep_samples(self.samples.setdefault(name, []), self.log_generations, batch, completions, score)

    def on_validation_epoch_start(self) -> None:
        self._reset_metrics(self.eval_sets["validate"])

    def on_test_epoch_start(self) -> None:
        self._reset_metrics(self.eval_sets["test"])

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.eval_sets["validate"])

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.eval_sets["test"])

    def _reset_metrics(self, names: list[str]) -> None:
        # At the start, not the end: states then belong to this loop's grad mode. A `validate`
        # (inference mode) before `fit` (no_grad) would otherwise leave inference tensors behind.
        for name in names:
            for group in (self.losses, self.hit_limit, self.metrics):
                if name in group:
                    group[name].reset()
            self.samples.pop(name, None)

    def _log_metrics(self, names: list[str]) -> None:
        for name in names:
            if name in self.losses and self.losses[name].update_count:
                loss = self.losses[name].compute()  # reduces across processes
                self.log_dict({f"{name}/loss": loss, f"{name}/ppl": loss.exp()}, prog_bar=True, add_dataloader_idx=False)
            if name in self.metrics:
                values = self.metrics[name].compute()  # reduces across processes
                if self.hit_limit[name].update_count:
                    values["hit_limit"] = self.hit_limit[name].compute()
                self.log_dict({f"{name}/{k}": v for k, v in values.items()}, prog_bar=True, add_dataloader_idx=False)
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            for name in names:
                if self.samples.get(name):
                    log_generations(self.trainer, f"{name}/generations", self.samples[name])

    # ---------------------------------------------------------------- generation
    @torch.no_grad()
    def generate(self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> list[str]:
        """The new text for left-padded prompts: greedy (`greedy_generate`) or beam search (`num_beams`)."""
        return self.tokenizer.batch_decode(self._generate_ids(prompt_ids, prompt_mask), skip_special_tokens=True)

    @torch.no_grad()
    def _generate_ids(self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> torch.Tensor:
        """The new tokens (EOS included, pads after it) for left-padded prompts."""
        was_training = self.model.training
        self.model.eval()
        eos, pad, beams = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id, self.num_beams
        sanity = self._trainer is not None and self.trainer.sanity_checking
        limit = min(self.max_new_tokens, SANITY_NEW_TOKENS) if sanity else self.max_new_tokens

        def generate(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            args = (self.model, ids, mask, limit, eos, pad)
            return greedy_generate(*args) if beams == 1 else beam_generate(*args, num_beams=beams)

        plan = self._plan_generation(prompt_ids)
        with merged_lora(self.model, enabled=self.merge_lora_for_generation):
            new = generate_in_chunks(generate, prompt_ids, prompt_mask, plan.chunk, pad)
        self.model.train(was_training)
        ended = (new == eos).int().cumsum(1)  # up to and including the first EOS
        self.generated_tokens += int(((ended - (new == eos).int()) == 0).sum())
        return new

    def _itemsize(self) -> int:
        """Bytes per activation: 2 under bf16/fp16 compute, else the dense weights' dtype."""
        precision = precision_dtype(self.trainer.precision) if self._trainer is not None else None
        if precision in (torch.bfloat16, torch.float16):
            return 2
        return self.model.get_input_embeddings().weight.element_size()

    def _plan_generation(self, prompt_ids: torch.Tensor):
        return self.planner.generation(self.model.config, prompt_ids, self.num_beams, self.max_new_tokens,
                                       self._itemsize(), self.eval_memory_gib)  # fmt: skip

    def _eval_loss(self, batch) -> torch.Tensor:
        """The batch's mean loss over trained tokens, on as many rows at a time as the budget allows."""
        positions = batch.get("logit_positions") if self.trained_logits_only else None
        kept = len(positions) if positions is not None else batch["labels"].shape[1]
        plan = self.planner.loss(self.model.config, batch["labels"], kept, self._itemsize(), self.eval_memory_gib)
        if plan.calls == 1:
            return self._loss(batch)
        return loss_in_row_pieces(self._loss, batch, plan.chunk, positions is not None)
