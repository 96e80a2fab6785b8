"""DeepSpeed ZeRO-2 (`lit.deepspeed.DeepSpeedStrategy`) on 2 CPU processes over gloo, with LoRA and
full fine-tuning, checked as FSDP is (tests/test_fsdp.py): a checkpoint scores the same in one process as in
two, holds the adapter or the whole weights, resumes with `--ckpt_path last` and exports. DeepSpeed's
checkpoint is a folder; one process reads it after Lightning's conversion to one file. DeepSpeed is in the
test extras (not a dependency of lit): these tests run wherever those are installed, and fail where it is not.
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

RUN_MODES = ["lora", "full"]


@pytest.fixture(scope="module", params=PRECISIONS)
def runs(request, tmp_path_factory) -> dict:
    """Every mode's runs in one precision, named (never what `auto` resolves to on the host)."""
    folder = tmp_path_factory.mktemp("deepspeed")
    return {"precision": request.param, **strategy_runs(folder, "deepspeed", RUN_MODES, request.param)}


@pytest.mark.parametrize("mode", RUN_MODES)
def test_deepspeed_checkpoint_scores_the_same_in_one_process_as_in_two_and_holds_what_it_should(runs, mode):
    run = runs[mode]
    one = one_process(mode, run["ckpt"], runs["precision"])  # the folder converted to one file
    assert_scores_like_one_process(run, one, runs["precision"])
    assert_holds_adapter_or_whole_weights(load(run["ckpt"]), mode, one.model)


@pytest.mark.parametrize("mode", RUN_MODES)
def test_deepspeed_run_resumes_with_ckpt_path_last_and_its_optimizer_state(runs, mode):
    from pathlib import Path

    run = runs[mode]
    assert run["resumed_from"].endswith("last.ckpt")  # the folder written last
    assert run["fit_steps"] == 4 and run["resumed_steps"] == 8
    # ZeRO-2: each process wrote its part of the optimizer state; DeepSpeed names the files by dtype in bf16.
    prefix = "bf16_" if runs["precision"] == "bf16-mixed" else ""
    shards = sorted((Path(run["resumed_ckpt"]) / "checkpoint").glob("*zero_pp_rank_*_optim_states.pt"))
    assert [s.name.startswith(f"{prefix}zero_pp_rank_") for s in shards] == [True, True], shards
    for shard in shards:  # DeepSpeed's own file (its loss scaler is an object): read as DeepSpeed does
        state = torch.load(shard, map_location="cpu", weights_only=False)["optimizer_state_dict"]
        assert {float(s["step"]) for s in state["base_optimizer_state"]["state"].values()} == {8.0}


@pytest.mark.parametrize("mode", RUN_MODES)
def test_lit_export_works_from_a_deepspeed_checkpoint(runs, mode, tmp_path):
    assert_export_works(runs[mode]["ckpt"], mode, tmp_path)
