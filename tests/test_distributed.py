"""Strategies: DDP on 2 CPU processes (gloo) against 1 process; multi-node settings; what a strategy
refuses with 4-bit weights. FSDP: tests/test_fsdp.py; GPUs (DDP, FSDP, DeepSpeed): tests/test_gpu.py."""

import pytest

from lit.cli import cli_main
from tests.helpers.precision import PRECISIONS, close
from tests.helpers.processes import csv_logger, last_metrics, run_lit

TINY = [
    "--config",
    "configs/tiny/sums.yaml",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
]


@pytest.mark.parametrize("precision", PRECISIONS)
def test_ddp_on_two_cpu_processes_scores_like_one_process_and_its_checkpoint_loads(tmp_path, precision):
    ddp = [
        "--config",
        "configs/strategies/ddp.yaml",
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "2",
    ]
    tiny = [*TINY, "--trainer.precision", precision]  # named: two processes sum the loss in another order
    run_lit(
        [
            "fit",
            *tiny,
            *ddp,
            "--trainer.max_epochs",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path / "fit"),
            *csv_logger(tmp_path / "fit"),
        ]
    )
    ckpt = tmp_path / "fit" / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    # The 2-process checkpoint validates in one process (in this one) ...
    one = cli_main(["validate", *tiny, "--ckpt_path", str(ckpt), *csv_logger(tmp_path / "one")])
    one_metrics = {k: float(v) for k, v in one.trainer.callback_metrics.items()}
    # ... and in two, sharded: every held-out example scored exactly once.
    run_lit(["validate", *tiny, *ddp, "--ckpt_path", str(ckpt), *csv_logger(tmp_path / "two")])
    two_metrics = last_metrics(tmp_path / "two")
    rel = max(close(precision)["rtol"], 1e-4)
    for key in ("val/mae", "val/exact", "val/parse_rate", "val/loss"):
        assert two_metrics[key] == pytest.approx(one_metrics[key], rel=rel, abs=1e-5), key


def test_eval_sampler_shards_without_repeating(monkeypatch):
    import torch.distributed as dist

    from datamodules.distributed import eval_sampler

    assert eval_sampler(list(range(5))) is None  # one process: Lightning's default loader
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    shards = []
    for rank in (0, 1):
        monkeypatch.setattr(dist, "get_rank", lambda rank=rank: rank)
        shards.append(list(eval_sampler(list(range(5)))))
    assert sorted(shards[0] + shards[1]) == [0, 1, 2, 3, 4]  # no example twice, none dropped


def test_multi_node_settings_parse_and_reach_the_trainer(monkeypatch):
    from lightning.fabric.plugins.environments import SLURMEnvironment
    from lightning.pytorch.strategies import DDPStrategy

    # As `srun` sets them for task 0 of 4 (2 nodes x 2 processes).
    slurm = {
        "SLURM_NTASKS": "4",
        "SLURM_NTASKS_PER_NODE": "2",
        "SLURM_NNODES": "2",
        "SLURM_JOB_NAME": "lit",
        "SLURM_JOB_ID": "42",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_NODELIST": "node[1-2]",
    }
    for key, value in slurm.items():
        monkeypatch.setenv(key, value)
    # Lightning's SLURMEnvironment writes MASTER_ADDR and MASTER_PORT into os.environ when asked for them; set
    # and removed here, monkeypatch undoes whatever they hold after the test (else later launches in this
    # process would look for their peers at node1).
    for key in ("MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(key, "unset")
        monkeypatch.delenv(key)
    cli = cli_main(
        [
            "--config",
            "configs/tiny/sums.yaml",
            "--config",
            "configs/strategies/ddp.yaml",
            "--trainer.accelerator",
            "cpu",
            "--trainer.devices",
            "2",
            "--trainer.num_nodes",
            "2",
            "--trainer.plugins",
            "lightning.fabric.plugins.environments.SLURMEnvironment",
            "--trainer.plugins.auto_requeue",
            "true",
        ],
        run=False,
    )
    trainer = cli.trainer
    assert trainer.num_nodes == 2 and trainer.num_devices == 2
    assert isinstance(trainer.strategy, DDPStrategy)
    environment = trainer.strategy.cluster_environment
    assert isinstance(environment, SLURMEnvironment) and environment.auto_requeue
    assert environment.world_size() == 4 and environment.main_address == "node1"


def test_deepspeed_stage_3_with_4bit_is_refused_before_loading():
    from modules.errors import UserInputError
    from modules.strategies import check_quantization_support

    class DeepSpeedStrategy:  # what the check reads of Lightning's strategy
        config = {"zero_optimization": {"stage": 3}}

    with pytest.raises(UserInputError, match="ZeRO stage 3"):
        check_quantization_support(DeepSpeedStrategy(), True, "auto")

    class FSDPStrategy:  # Lightning's (FSDP1, GPUs only)
        pass

    class FSDP2Strategy:  # lit.fsdp's
        pass

    for fsdp in (FSDPStrategy(), FSDP2Strategy()):
        with pytest.raises(UserInputError, match="quant_storage"):
            check_quantization_support(fsdp, True, "uint8")
        check_quantization_support(fsdp, True, "auto")
