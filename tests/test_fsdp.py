"""Issue 21: FSDP (`lit.fsdp.FSDP2Strategy`, torch's FSDP2) on 2 CPU processes over gloo, with LoRA, 4-bit +
LoRA and full fine-tuning: the weights are sharded, a checkpoint scores the same in one process as in two
(as the DDP test checks), holds the adapter or the whole weights, resumes and exports.

The 2-process runs happen once, in one launch (`tests/helpers/fsdp_runs.py`); the tests read what they left.
"""

import json

import pytest
import torch

from lit.cli import cli_main
from tests.helpers.fsdp_runs import TINY
from tests.helpers.processes import run_command
from tests.helpers.tiny_runs import MODES

RUN_MODES = ["lora", "4bit+lora", "full"]
METRICS = ("val/loss", "val/mae", "val/exact", "val/parse_rate", "val/hit_limit")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("fsdp")
    run_command(["tests/helpers/fsdp_runs.py", str(out), *RUN_MODES], timeout=900)
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def one_process(mode: str, ckpt: str):
    """`lit validate` of a checkpoint in this one process: the reference the 2-process figures must meet."""
    return cli_main(["validate", *TINY, *MODES[mode], "--ckpt_path", ckpt])


@pytest.mark.parametrize("mode", RUN_MODES)
def test_fsdp_shards_every_parameter_over_the_two_processes(runs, mode):
    sharding = runs[mode]["sharding"]
    assert sharding["units"] == 3  # the tiny model's 2 transformer blocks, and the model around them
    assert sharding["dtensor_params"] == sharding["params"]
    # Each process holds half of every weight (rows split in two; none of the tiny shapes is odd).
    assert sharding["local_numel"] * 2 == sharding["numel"]
    if mode == "4bit+lora":  # packed 4-bit weights, in fp32 storage, gather back bit for bit
        assert sharding["packed_4bit"] == {"checked": 14, "equal": 14, "dtype": "torch.float32"}


@pytest.mark.parametrize("mode", RUN_MODES)
def test_fsdp_checkpoint_scores_the_same_in_one_process_as_in_two_and_holds_what_it_should(runs, mode):
    run = runs[mode]
    one = one_process(mode, run["ckpt"])
    one_metrics = {k: float(v) for k, v in one.trainer.callback_metrics.items()}
    for key in METRICS:  # validate in two processes, and fit's own last validation
        assert run["validate"][key] == pytest.approx(one_metrics[key], rel=1e-4, abs=1e-5), key
        assert run["fit"][key] == pytest.approx(one_metrics[key], rel=1e-4, abs=1e-5), key
    # The same greedy generations: process 0 scored held-out examples 0, 2, 4, ... of the 16.
    assert len(one.model.samples["val"]) == 16
    assert run["samples"] == one.model.samples["val"][0::2]

    # What the checkpoint holds, against the model built in one process: whole tensors, never shards.
    checkpoint = torch.load(run["ckpt"], map_location="cpu", weights_only=True)
    state = checkpoint["state_dict"]
    model = one.model
    if mode == "full":
        expected = model.state_dict()
        assert not checkpoint.get("adapter_only")
    else:  # the adapter only
        expected = {k: v for k, v in model.state_dict().items() if k in model._trainable_keys()}
        assert checkpoint["adapter_only"] and all("lora_" in k for k in state)
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in expected.items()}
    optimizer = checkpoint["optimizer_states"][0]  # keyed by index as in one process, whole tensors too
    trained = [p for p in model.parameters() if p.requires_grad]
    assert sorted(optimizer["state"]) == list(range(len(trained)))
    shapes = [tuple(optimizer["state"][i]["exp_avg"].shape) for i in range(len(trained))]
    assert shapes == [tuple(p.shape) for p in trained]


@pytest.mark.parametrize("mode", RUN_MODES)
def test_fsdp_run_resumes_with_ckpt_path_last_and_its_optimizer_state(runs, mode):
    run = runs[mode]
    assert run["resumed_from"].endswith("last.ckpt")
    assert run["fit_steps"] == 4 and run["resumed_steps"] == 8  # 64 examples, batch 8, 2 processes: 4 a epoch
    resumed = torch.load(run["resumed_ckpt"], map_location="cpu", weights_only=True)
    # AdamW counted on from the loaded state; a fresh optimizer would have counted 4.
    assert {float(s["step"]) for s in resumed["optimizer_states"][0]["state"].values()} == {8.0}
    first = torch.load(run["ckpt"], map_location="cpu", weights_only=True)["state_dict"]
    assert first.keys() == resumed["state_dict"].keys()
    assert any(not torch.equal(first[k], resumed["state_dict"][k]) for k in first)  # and it trained on


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_lit_export_works_from_an_fsdp_checkpoint(runs, mode, tmp_path):
    cli_main(["export", "--ckpt_path", runs[mode]["ckpt"], "--out", str(tmp_path)])
    check = json.loads((tmp_path / "export_check.json").read_text(encoding="utf-8"))
    assert check["same_greedy_output"] == check["prompts"] == 8
    assert (tmp_path / "merged" / "config.json").is_file()
    assert (tmp_path / "adapter").is_dir() == (mode == "lora")
