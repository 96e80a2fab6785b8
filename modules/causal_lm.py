"""One LightningModule for every causal LM: load, quantize, adapt with LoRA, train, generate."""

from __future__ import annotations

import inspect
from dataclasses import asdict

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch.nn.modules.module import _IncompatibleKeys

from modules.adapter_checkpoint import (
    adapter_mismatch,
    describe_run,
    keep_adapter_only,
    require_adapter_match,
)
from modules.cpu_4bit import (
    keep_trainable_layout,
    linear_4bit_layers,
    restore_trainable_layout,
)
from modules.eval_memory import EvalPlanner, activation_itemsize
from modules.evaluation import Evaluation, distinct_rows, prompt_keys
from modules.generation import generate_new_tokens, returned_lengths
from modules.generation_log import log_generations
from modules.loading import accelerator_of, load_causal_lm
from modules.loss import loss_at_positions, loss_in_row_pieces, packed_row_kwargs
from modules.non_finite import NonFiniteGuard
from modules.peft_config import LoraArgs, QuantArgs
from modules.preference import PreferenceArgs, PreferenceObjective, check_strategy
from modules.task import task_of
from modules.tokenizer import load_tokenizer

# Lightning's sanity check validates the untrained model before the first step, only to catch errors
# in the evaluation code; its generations tend to run to max_new_tokens (the sums config's sanity
# check was minutes of CPU before training began). A few tokens run the same code: model, cache,
# decoding, metric.
SANITY_NEW_TOKENS = 4


class CausalLM(L.LightningModule):
    """Fine-tunes any `AutoModelForCausalLM` (Mistral, GPT-2, Llama-family), optionally 4-bit + LoRA.

    Args:
        model: an embedded short name (e.g. "smollm2-135m-instruct"), a local directory, or a hub id.
        quantization: load the base weights in 4-bit with bitsandbytes (QLoRA); None keeps them dense.
        lora: train a LoRA adapter instead of all weights; None is full fine-tuning.
        optimizer: the optimizer, built on the trainable parameters only.
        lr_scheduler: optional scheduler, stepped every optimizer step.
        gradient_checkpointing: recompute activations in backward to save memory.
        dtype: dtype of the dense weights; "auto" follows the Trainer's precision for frozen (LoRA) base
            weights (bf16 under "bf16-mixed"; without a Trainer, per hardware) and is fp32 for weights
            that train (mixed precision's master weights).
        max_new_tokens: generation length limit for validation, test and predict.
        num_beams: 1 is greedy decoding; more is beam search (`beam_generate`, docs/results.md: the Java
        tasks).
        trust_remote_code: allow model code from the hub; off unless a config turns it on.
        init_weights: a lit checkpoint whose weights start this run (two-stage training: e.g. the
            corpus stage's checkpoint under the instruction stage). Unlike `--ckpt_path`, optimizer,
            step and epoch start fresh. A full checkpoint loads into the base before LoRA is added
            (not with quantization); an adapter-only one loads into the same LoRA settings.
        log_generations: how many examples of each evaluation set (always the same ones: the first
            of the set) are logged with their generation at every validation: a W&B Table per set,
            and `generations.jsonl` in the run directory.
        trained_logits_only: compute the LM head only at the positions whose next token carries loss
            (the completion, not the prompt or the padding; batches name them in `logit_positions`),
            via the model's `logits_to_keep`; the loss is the same, at less memory (docs/benchmarks.md).
        attn_implementation: the attention kernel: "sdpa" (PyTorch's fused attention), "eager",
            "flash_attention_2", ...; None leaves the choice to transformers.
        fast_dropout: LoRA's dropout masks on CPU drawn only where elements drop (`FastDropout`:
            the same distribution from ~p as many random draws; torch's mask was 17% of a CPU step).
        finite_check: when a non-finite training loss stops the run. "step": checked every step,
            before the update; "log": a flag kept on the device, read at logging steps and before every
            checkpoint write (no per-step host sync; the last good checkpoint is still the one kept);
            "auto": "step" on CPU, where reading the loss costs nothing, "log" on accelerators.
        score_every: per evaluation set, every how many validations of `fit` it is scored by generation
            (`{"val_seen": 3}`; `modules.evaluation.Evaluation`): a diagnostic set need not cost every
            validation its generation. Its loss is computed every time; the last validation of fit, and
            `validate` and `test`, score every set.
        eval_memory_gib: the memory one evaluation call may take (`modules.eval_memory`): a batch whose
            loss or generation is estimated larger runs in pieces of rows, with the same loss and the
            same texts. None: half of the memory available when the batch starts (the training state
            is already resident then).
        preference: train on (chosen, rejected) pairs (`datamodules.PreferenceDataModule`) with DPO or a
            reference-free loss (`modules.preference`); None: supervised training. Evaluation is the task's
            either way.
    """

    def __init__(
        self,
        model: str = "smollm2-135m-instruct",
        quantization: QuantArgs | None = None,
        lora: LoraArgs | None = None,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        gradient_checkpointing: bool = False,
        dtype: str = "auto",
        max_new_tokens: int = 48,
        num_beams: int = 1,
        trust_remote_code: bool = False,
        init_weights: str | None = None,
        log_generations: int = 8,
        trained_logits_only: bool = True,
        attn_implementation: str | None = "sdpa",
        fast_dropout: bool = True,
        finite_check: str = "auto",
        eval_memory_gib: float | None = None,
        score_every: dict[str, int] | None = None,
        preference: PreferenceArgs | None = None,
    ):
        super().__init__()
        if isinstance(preference, dict):
            preference = PreferenceArgs(**preference)
        if isinstance(quantization, dict):  # from a checkpoint's hyperparameters
            quantization = QuantArgs(**quantization)
        if isinstance(lora, dict):
            lora = LoraArgs(**lora)
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler"])
        # Plain dicts, so a checkpoint's hyperparameters load with torch.load(weights_only=True).
        self.hparams.update(quantization=quantization and asdict(quantization), lora=lora and asdict(lora))
        self.hparams.update(preference=preference and asdict(preference))
        # The reference and the loss of preference batches; fixed in `configure_model` (`modules.preference`).
        self.objective = PreferenceObjective(preference) if preference is not None else None
        self.source = model
        self.quantization = quantization
        self.lora = lora
        self.optimizer_factory = optimizer
        self.scheduler_factory = lr_scheduler
        self.gradient_checkpointing = gradient_checkpointing
        self.dtype_name = dtype
        self.max_new_tokens = max_new_tokens
        if num_beams < 1:
            raise ValueError(f"num_beams must be >= 1, got {num_beams}")
        self.num_beams = num_beams
        self.trust_remote_code = trust_remote_code
        self.init_weights = init_weights
        self.log_generations = log_generations
        self.trained_logits_only = trained_logits_only
        self.attn_implementation = attn_implementation
        self.fast_dropout = fast_dropout
        self.guard = NonFiniteGuard(finite_check)
        self.eval_memory_gib = eval_memory_gib
        self.planner = EvalPlanner()  # the loss and generation of an evaluation batch within eval_memory_gib
        # The held-out sets' metrics, configured in `setup`.
        self.evaluation = Evaluation(log_generations, score_every)
        self.generated_tokens = 0  # counted for the end-of-run summary line
        self.model = None
        self.tokenizer = None
        self.linear_4bit: list[torch.nn.Module] = []  # bitsandbytes' 4-bit layers, set in `configure_model`
        self.repacked_layers = 0  # 4-bit layers found packed at a training step (`on_train_batch_start`)

    # ---------------------------------------------------------------- loading
    def configure_model(self) -> None:
        if self.model is not None:  # called again by fit after validate, or on resume
            return
        trainer = self.trainer if self._trainer is not None else None
        device = trainer.strategy.root_device if trainer is not None else None
        if self.objective is not None and trainer is not None:
            check_strategy(trainer.strategy)
        model = load_causal_lm(
            self.source,
            quantization=self.quantization,
            lora=self.lora,
            dtype_name=self.dtype_name,
            trust_remote_code=self.trust_remote_code,
            attn_implementation=self.attn_implementation,
            gradient_checkpointing=self.gradient_checkpointing,
            fast_dropout=self.fast_dropout,
            init_weights=self.init_weights,
            strategy=trainer.strategy if trainer is not None else None,
            accelerator=accelerator_of(device),
            precision=trainer.precision if trainer is not None else None,
            device=device,
        )
        if "logits_to_keep" not in inspect.signature(model.forward).parameters:
            self.trained_logits_only = False  # remote code may predate it: full logits, same loss
        # One layout for the 4-bit weights in training and evaluation, the one with a gradient
        # (`modules.cpu_4bit`).
        self.linear_4bit = linear_4bit_layers(model)
        keep_trainable_layout(self.linear_4bit)
        # from_pretrained returns eval mode; training starts with dropout on, as Lightning expects.
        self.model = model.train()
        if self.objective is not None:  # the starting weights are the reference, before any resume restores
            self.objective.prepare(self.model, lora=self.lora is not None)
        self.tokenizer = load_tokenizer(self.source, trust_remote_code=self.trust_remote_code)

    def setup(self, stage: str) -> None:
        self.evaluation.configure(task_of(self.trainer.datamodule if self._trainer is not None else None))

    # ---------------------------------------------------------------- training
    def forward(self, input_ids, attention_mask=None, labels=None, position_ids=None):
        packed = packed_row_kwargs(position_ids)
        return self.model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **packed)

    def _loss(self, batch) -> torch.Tensor:
        # Where a batch is padded on the right only (the data modules say so), no real token attends
        # to a pad under the causal mask, so the mask can go: transformers then runs SDPA with
        # is_causal instead of building a mask after a data-dependent check (a device sync per step).
        # A packed row (`position_ids`, the data module's `packing`) has no pad and must have no mask:
        # transformers then keeps attention inside each example from where the positions restart.
        position_ids = batch.get("position_ids")
        mask = None if batch.get("pads_right") or position_ids is not None else batch["attention_mask"]
        # The data module's collate finds the positions on the host: on the device, nonzero's
        # data-dependent size would make every step wait for the device.
        positions = batch.get("logit_positions") if self.trained_logits_only else None
        if positions is None:
            return self(batch["input_ids"], mask, batch["labels"], position_ids).loss
        return loss_at_positions(
            self.model, batch["input_ids"], mask, batch["labels"], positions, position_ids
        )

    def on_train_batch_start(self, batch, batch_idx) -> None:
        # The one guard of the training layout, whatever ran in between (validation, a callback, user code):
        # a 4-bit layer in bitsandbytes' CPU inference layout would pass no gradient (`modules.cpu_4bit`).
        self.repacked_layers += restore_trainable_layout(self.linear_4bit)

    def training_step(self, batch, batch_idx):
        if "chosen_rows" in batch:  # a batch of preference pairs (`modules.preference`)
            loss = PreferenceObjective.training_loss(self, batch)
        else:
            loss = self._loss(batch)
        self.guard.check_loss(self, loss, batch_idx)
        # In the progress bar where reading it is free (CPU): there it is read back every step, which
        # on a GPU is a device sync; there the logger alone has it, at logging steps.
        self.log("train/loss", loss, prog_bar=self.guard.every_step(self))
        every = self.trainer.log_every_n_steps if self._trainer is not None else 0
        if every and self.trainer.optimizers and (self.global_step + 1) % every == 0:
            self.guard.check_noted(self)
            # Only at the steps the logger writes: a float logged is a host-to-device copy (a sync).
            self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"])
        return loss

    # ---------------------------------------------------------------- evaluation (`self.evaluation`)
    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        self._evaluate(batch, self.evaluation.sets["validate"][dataloader_idx])

    def test_step(self, batch, batch_idx, dataloader_idx: int = 0):
        self._evaluate(batch, self.evaluation.sets["test"][dataloader_idx])

    def _evaluate(self, batch, name: str) -> None:
        if self.evaluation.generates(name) and "prompt_ids" in batch:
            # A prompt repeated in the batch is generated once (greedy and beam search are deterministic);
            # every repeat is still scored, so the metric weighs the items as before.
            rows, back = distinct_rows(prompt_keys(batch))
            new = self.generate_ids(batch["prompt_ids"][rows], batch["prompt_mask"][rows])[back]
            completions = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            self.evaluation.update(
                name, batch, self._eval_loss(batch), new, completions, self.tokenizer.eos_token_id
            )
        else:
            self.evaluation.update(name, batch, self._eval_loss(batch))

    def on_fit_start(self) -> None:
        self.evaluation.check_monitors([getattr(c, "monitor", None) for c in self.trainer.callbacks])

    def on_validation_epoch_start(self) -> None:
        self.evaluation.start_validation(self.trainer)

    def on_test_epoch_start(self) -> None:
        self.evaluation.start(self.evaluation.sets["test"])

    def on_validation_epoch_end(self) -> None:
        self._log_evaluation(self.evaluation.sets["validate"])

    def on_test_epoch_end(self) -> None:
        self._log_evaluation(self.evaluation.sets["test"])

    def _log_evaluation(self, names: list[str]) -> None:
        self.log_dict(self.evaluation.compute(names), prog_bar=True, add_dataloader_idx=False)
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            for key, rows in self.evaluation.generations(names).items():
                log_generations(self.trainer, key, rows)

    def _eval_loss(self, batch) -> torch.Tensor:
        """The batch's mean loss over trained tokens, on as many rows at a time as the budget allows."""
        positions = batch.get("logit_positions") if self.trained_logits_only else None
        kept = len(positions) if positions is not None else batch["labels"].shape[1]
        plan = self.planner.loss(
            self.model.config, batch["labels"], kept, self._itemsize(), self.eval_memory_gib
        )
        if plan.calls == 1:
            return self._loss(batch)
        return loss_in_row_pieces(self._loss, batch, plan.chunk, positions is not None)

    # ---------------------------------------------------------------- generation
    @torch.no_grad()
    def generate(self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> list[str]:
        """The new text for left-padded prompts: greedy (`greedy_generate`) or beam search (`num_beams`)."""
        return self.tokenizer.batch_decode(
            self.generate_ids(prompt_ids, prompt_mask), skip_special_tokens=True
        )

    def generate_ids(self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> torch.Tensor:
        """The new tokens (EOS included, pads after it) for left-padded prompts, in pieces of rows where the
        memory budget asks (`modules.eval_memory`)."""
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        sanity = self._trainer is not None and self.trainer.sanity_checking
        limit = min(self.max_new_tokens, SANITY_NEW_TOKENS) if sanity else self.max_new_tokens
        config, memory = self.model.config, self.eval_memory_gib
        plan = self.planner.generation(
            config, prompt_ids, self.num_beams, self.max_new_tokens, self._itemsize(), memory
        )
        new = generate_new_tokens(
            self.model, prompt_ids, prompt_mask, limit, eos, pad, self.num_beams, plan.chunk
        )
        self.generated_tokens += int(returned_lengths(new, eos).sum())
        return new

    def _itemsize(self) -> int:
        return activation_itemsize(self.model, self.trainer.precision if self._trainer is not None else None)

    def predict_step(self, batch, batch_idx):
        completions = self.generate(batch["prompt_ids"], batch["prompt_mask"])
        return task_of(self.trainer.datamodule).prediction_rows(batch, completions)

    # ---------------------------------------------------------------- optimization
    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = self.optimizer_factory(params)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ---------------------------------------------------------------- checkpoints
    def _trainable_keys(self) -> set[str]:
        return {name for name, p in self.named_parameters() if p.requires_grad}

    def on_train_end(self) -> None:
        self.guard.check_noted(self)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self._trainer is not None:  # never overwrite a good checkpoint with NaNs
            self.guard.check_weights(self, self._trainable_keys())
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        if datamodule is not None:
            describe_run(checkpoint, datamodule)
        checkpoint["lit_validations"] = self.evaluation.validations  # a resumed run keeps score_every's turns
        if self.lora is not None:
            keep_adapter_only(checkpoint, self._trainable_keys())

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.evaluation.validations = checkpoint.get("lit_validations", 0)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        if self.lora is None:
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        # Adapter-only checkpoint: the base comes from `model`; every adapter weight must be there.
        missing, unexpected = adapter_mismatch(self.state_dict(), self._trainable_keys(), state_dict)
        if strict:
            require_adapter_match(missing, unexpected)
        super().load_state_dict(state_dict, strict=False, assign=assign)
        return _IncompatibleKeys(missing, unexpected)
