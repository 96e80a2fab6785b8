"""FSDP (`lit.fsdp.FSDP2Strategy`, torch's FSDP2) on 2 CPU processes over gloo, with LoRA, 4-bit +
LoRA and full fine-tuning: the weights are sharded, a checkpoint scores the same in one process as in two
(as the DDP test checks), holds the adapter or the whole weights, resumes and exports.

The 2-process runs happen once, in one launch (`tests/helpers/strategy_runs.py`); the tests read what they
left.
"""

import pytest
import torch

from tests.helpers.precision import PRECISIONS
from tests.helpers.processes import strategy_runs
from tests.helpers.sharded_checks import (
    assert_export_works,
    assert_holds_adapter_or_whole_weights,
    assert_scores_like_one_process,
    load,
    one_process,
)

RUN_MODES = ["lora", "4bit+lora", "full"]


@pytest.fixture(scope="module", params=PRECISIONS)
def runs(request, tmp_path_factory) -> dict:
    """Every mode's runs in one precision, named (never what `auto` resolves to on the host)."""
    folder = tmp_path_factory.mktemp("fsdp")
    return {"precision": request.param, **strategy_runs(folder, "fsdp", RUN_MODES, request.param)}


@pytest.mark.parametrize("mode", RUN_MODES)
def test_fsdp_shards_every_parameter_over_the_two_processes(runs, mode):
    sharding = runs[mode]["sharding"]
    assert sharding["units"] == 3  # the tiny model's 2 transformer blocks, and the model around them
    assert sharding["dtensor_params"] == sharding["params"]
    # Each process holds half of every weight (rows split in two; none of the tiny shapes is odd).
    assert sharding["local_numel"] * 2 == sharding["numel"]
    if mode == "4bit+lora":  # packed 4-bit weights, stored in the compute dtype, gather back bit for bit
        storage = "torch.bfloat16" if runs["precision"] == "bf16-mixed" else "torch.float32"
        assert sharding["packed_4bit"] == {"checked": 14, "equal": 14, "dtype": storage}


@pytest.mark.parametrize("mode", RUN_MODES)
def test_fsdp_checkpoint_scores_the_same_in_one_process_as_in_two_and_holds_what_it_should(runs, mode):
    run = runs[mode]
    one = one_process(mode, run["ckpt"], runs["precision"])
    assert_scores_like_one_process(run, one, runs["precision"])
    checkpoint = load(run["ckpt"])
    assert_holds_adapter_or_whole_weights(checkpoint, mode, one.model)
    optimizer = checkpoint["optimizer_states"][0]  # keyed by index as in one process, whole tensors too
    trained = [p for p in one.model.parameters() if p.requires_grad]
    assert sorted(optimizer["state"]) == list(range(len(trained)))
    shapes = [tuple(optimizer["state"][i]["exp_avg"].shape) for i in range(len(trained))]
    assert shapes == [tuple(p.shape) for p in trained]


@pytest.mark.parametrize("mode", RUN_MODES)
def test_fsdp_run_resumes_with_ckpt_path_last_and_its_optimizer_state(runs, mode):
    run = runs[mode]
    assert run["resumed_from"].endswith("last.ckpt")
    assert run["fit_steps"] == 4 and run["resumed_steps"] == 8  # 64 examples, batch 8, 2 processes: 4 a epoch
    resumed = load(run["resumed_ckpt"])
    # AdamW counted on from the loaded state; a fresh optimizer would have counted 4.
    assert {float(s["step"]) for s in resumed["optimizer_states"][0]["state"].values()} == {8.0}
    first = load(run["ckpt"])["state_dict"]
    assert first.keys() == resumed["state_dict"].keys()
    assert any(not torch.equal(first[k], resumed["state_dict"][k]) for k in first)  # and it trained on


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_lit_export_works_from_an_fsdp_checkpoint(runs, mode, tmp_path):
    assert_export_works(runs[mode]["ckpt"], mode, tmp_path)
