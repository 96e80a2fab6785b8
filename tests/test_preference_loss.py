"""DPO as lit computes it equals TRL's DPOTrainer on the same pairs; the loss's fixed points and gradients."""

import copy
import importlib.util
import json
import math
import os

import pytest
import torch

from datamodules.preferences import PreferenceDataModule
from modules.causal_lm import CausalLM
from modules.peft_config import LoraArgs
from modules.preference import PreferenceArgs, PreferenceObjective
from modules.preference_loss import preference_loss
from tests.helpers import TINY_MISTRAL
from tests.helpers.precision import PRECISIONS, autocast, module_kwargs

# Conversational pairs (TRL's format): both sides go through the tiny model's chat template.
PAIRS = [
    ("12 es igual a", "diez más dos", "cinco"),
    ("3 es igual a", "tres", "uno más uno más nueve"),
    ("27 es igual a", "veinte más siete", "siete más veinte más uno"),
]


def conversational(prompt, chosen, rejected) -> dict:
    return {
        "prompt": [{"role": "user", "content": prompt}],
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }


def lit_batch(tmp_path) -> dict:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(conversational(*p)) + "\n" for p in PAIRS), encoding="utf-8")
    data = PreferenceDataModule(tokenizer=TINY_MISTRAL, train_file=str(path), max_length=128)
    data.setup("fit")
    return data.collate(data.pairs)


def trl_trainer(model, tmp_path, ref_model=None, sft_weight: float = 0.0):
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(
        output_dir=str(tmp_path / "trl"),
        per_device_train_batch_size=len(PAIRS),
        report_to=[],
        use_cpu=True,
        beta=0.1,
        max_length=None,
        bf16=False,
        # lit's sft_weight is TRL's "sft" loss type beside "sigmoid", weighted (RPO).
        **({"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, sft_weight]} if sft_weight else {}),
    )
    dataset = Dataset.from_list([conversational(*p) for p in PAIRS])
    tokenizer = AutoTokenizer.from_pretrained(TINY_MISTRAL)
    return DPOTrainer(
        model=model, ref_model=ref_model, args=args, train_dataset=dataset, processing_class=tokenizer
    )


def require_trl() -> None:
    """TRL is a test extra: skipped where it is absent, except in CI, which must run the comparison."""
    if importlib.util.find_spec("trl") is None:
        if os.environ.get("CI"):
            pytest.fail("trl not installed: CI must check DPO against it (pip install -e '.[test]')")
        pytest.skip("trl not installed (pip install -e '.[test]')")


def tiny_model(lora: bool, adapter_start: str = "zero"):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(TINY_MISTRAL, dtype=torch.float32)
    if lora:
        config = LoraConfig(
            r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj", "o_proj"]
        )
        model = get_peft_model(model, config)
        if adapter_start == "trained":  # a run that starts from a trained adapter (a supervised checkpoint)
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    torch.nn.init.normal_(p, std=0.5)
    return model


def move_policy(model) -> None:
    """As if the policy had trained: its trainable weights leave the reference's."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.5)


@pytest.mark.parametrize(
    "start",
    ["lora from zero", "lora from a trained adapter", "full fine-tuning", "lora from zero, with an sft term"],
)
def test_loss_and_rewards_equal_trl_dpo_trainer(start, tmp_path):
    """One batch, fp32: lit's tokens, loss, rewards, reward accuracy and margin are TRL's DPOTrainer's.

    The reference each uses: LoRA from zero, the adapter disabled (TRL: its copy of the zero adapter);
    from a trained adapter, the starting adapter (TRL: its "ref" copy); full fine-tuning, a frozen copy
    (given to TRL as `ref_model`)."""
    require_trl()
    lora = start != "full fine-tuning"
    model = tiny_model(lora, "trained" if "trained" in start else "zero")
    reference = None if lora else copy.deepcopy(model).eval()
    # lit fixes its reference before TRL patches the model's forward (a later copy calls the patched one).
    sft_weight = 0.5 if "sft" in start else 0.0
    objective = PreferenceObjective(PreferenceArgs(beta=0.1, sft_weight=sft_weight))
    objective.prepare(model, lora=lora)
    trainer = trl_trainer(model, tmp_path, reference, sft_weight)
    move_policy(trainer.model)

    trl_batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(PAIRS))])
    batch = lit_batch(tmp_path)
    # The same tokens, the same response masks: lit renders conversational pairs as TRL does.
    rows = batch["input_ids"].shape[1]
    assert torch.equal(batch["input_ids"], trl_batch["input_ids"][:, :rows])
    assert torch.equal(batch["labels"] != -100, trl_batch["completion_mask"][:, :rows].bool())

    trainer.model.train()
    expected = trainer.compute_loss(trainer.model, trl_batch)
    logged = {key: values[-1] for key, values in trainer._metrics["train"].items()}
    out = objective(trainer.model, batch, batch["logit_positions"])
    metrics = out.metrics()

    assert abs(expected.item() - math.log(2)) > 1e-3  # the policy has moved: not the trivial log 2
    torch.testing.assert_close(out.loss, expected, rtol=1.3e-6, atol=1e-6)
    for lit_key, trl_key in [
        ("rewards_chosen", "rewards/chosen"),
        ("rewards_rejected", "rewards/rejected"),
        ("reward_accuracy", "rewards/accuracies"),
        ("margin", "rewards/margins"),
    ]:
        assert metrics[lit_key].item() == pytest.approx(logged[trl_key], rel=1e-5, abs=1e-6), lit_key


@pytest.mark.parametrize("precision", PRECISIONS)
def test_the_policy_at_its_reference_has_loss_log_2_and_zero_rewards(precision, tmp_path):
    """Before any step the policy is the reference: the DPO loss is log 2 and every reward 0."""
    module = CausalLM(
        model=TINY_MISTRAL,
        lora=LoraArgs(r=4, alpha=8, dropout=0.0, target_modules="all-linear"),
        preference=PreferenceArgs(beta=0.1),
        **module_kwargs(precision),
    )
    module.configure_model()
    batch = lit_batch(tmp_path)
    with autocast(precision):
        out = module.objective(module.model, batch, batch["logit_positions"])
    assert out.loss.item() == pytest.approx(math.log(2), abs=1e-6)
    assert not out.chosen_rewards.any() and not out.rejected_rewards.any()


def test_simpo_is_reference_free_and_length_normalized():
    """SimPO on known values: beta x mean log-probability per token, margin gamma, no reference."""
    out = preference_loss(
        torch.tensor([-4.0]),
        torch.tensor([-9.0]),
        None,
        None,
        beta=2.0,
        loss_type="simpo",
        chosen_tokens=torch.tensor([2]),
        rejected_tokens=torch.tensor([3]),
        gamma=0.5,
    )
    # rewards 2 x -4/2 = -4 and 2 x -9/3 = -6; loss -log sigmoid(-4 + 6 - 0.5)
    assert out.chosen_rewards.item() == -4.0 and out.rejected_rewards.item() == -6.0
    assert out.loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-1.5))))
    with pytest.raises(ValueError, match="reference"):
        preference_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), None, None, beta=0.1)


def test_gradient_reaches_the_adapter_only_and_the_reference_pass_has_none(tmp_path):
    """The loss trains the LoRA weights alone; the reference log-probabilities carry no graph."""
    module = CausalLM(
        model=TINY_MISTRAL,
        lora=LoraArgs(r=4, alpha=8, dropout=0.0, target_modules="all-linear"),
        preference=PreferenceArgs(beta=0.1),
        dtype="float32",
    )
    module.configure_model()
    move_policy(module.model)  # off the reference, so the gradient is not zero by symmetry
    batch = lit_batch(tmp_path)
    reference = module.objective.reference_logps(module.model, batch, batch["logit_positions"], None)
    assert reference is not None and not reference.requires_grad
    module.objective(module.model, batch, batch["logit_positions"]).loss.backward()
    with_grad = {n for n, p in module.model.named_parameters() if p.grad is not None and p.grad.any()}
    trainable = {n for n, p in module.model.named_parameters() if p.requires_grad}
    assert with_grad and with_grad <= trainable and all("lora_" in n for n in with_grad)
    assert module.model.training  # the reference pass ran in eval mode and gave training mode back


def test_sharding_strategies_are_refused_before_loading():
    """FSDP and DeepSpeed hold parts of the weights per process; the reference pass expects them whole."""
    from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy, FSDPStrategy

    from modules.errors import UserInputError
    from modules.preference import check_strategy

    check_strategy(DDPStrategy())
    for kind in (FSDPStrategy, DeepSpeedStrategy):
        with pytest.raises(UserInputError, match="one device or with DDP"):
            check_strategy(kind.__new__(kind))
