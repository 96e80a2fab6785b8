"""A non-finite loss or weight stops the run and keeps the last good checkpoint."""

import pytest
import torch

from lit.cli import cli_main
from modules.causal_lm import CausalLM
from modules.errors import NonFiniteLossError, UserInputError
from tests.helpers.tiny_runs import MODES, tiny_run_args

pytestmark = pytest.mark.usefixtures("one_thread")  # the same thread count in every compared run


@pytest.mark.parametrize("what", ["loss", "loss read at logging steps", "weights"])
def test_non_finite_loss_or_weights_stop_the_run_and_keep_the_last_good_checkpoint(
    what, tmp_path, monkeypatch
):
    extra = []
    if what.startswith("loss"):
        real_loss = CausalLM._loss

        def nan_at_step_3(self, batch):
            return real_loss(self, batch) * (float("nan") if self.training and self.global_step == 3 else 1.0)

        monkeypatch.setattr(CausalLM, "_loss", nan_at_step_3)
        message = (
            r"train/loss is nan at step 3 \(epoch 1, batch 0\): stopped before this step updated any weight"
        )
        if what != "loss":  # the GPU default: a flag on the device, read before the next checkpoint write
            extra = ["--model.init_args.finite_check", "log", "--trainer.log_every_n_steps", "50"]
            message = (
                r"train/loss was not finite at step 3 \(found at step 4: .*\); the weights since then "
                r"are not saved"
            )
    else:  # a finite loss whose update still breaks the weights (an overflow in backward, say)

        def on_before_optimizer_step(self, optimizer):
            if self.global_step == 3:
                next(p for p in self.parameters() if p.requires_grad).grad.fill_(float("inf"))

        monkeypatch.setattr(CausalLM, "on_before_optimizer_step", on_before_optimizer_step)
        message = (
            r"1 trained weight\(s\) are not finite at step 4 \(e.g. .*\): this checkpoint is not written"
        )
    with pytest.raises(NonFiniteLossError, match=message) as error:
        cli_main(tiny_run_args(tmp_path, "run", "v", *MODES["full"], *extra, every_step=True))
    last = tmp_path / "run" / "v" / "checkpoints" / "last.ckpt"
    assert f"the last checkpoint written, {last}, is kept" in str(error.value)
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["global_step"] == 3
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values() if v.is_floating_point())


def test_an_unknown_finite_check_mode_is_a_clear_error():
    from modules.non_finite import NonFiniteGuard

    with pytest.raises(UserInputError, match="finite_check must be auto, step or log, not 'sometimes'"):
        NonFiniteGuard("sometimes")
