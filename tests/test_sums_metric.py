"""The sums metric: MAE, exact and parse rate on known inputs, states that reduce exactly."""

import torch

from datamodules.sums.metric import SumMAE, sum_error


def test_sum_mae_on_known_inputs():
    metric = SumMAE()
    metric.update(["cinco más tres", "nueve más nueve"], ["8", 20])
    metric.update(["hola"], ["10"])
    values = metric.compute()
    assert torch.isclose(values["mae"], torch.tensor((0 + 2 + 10) / 3))
    assert torch.isclose(values["exact"], torch.tensor(1 / 3))
    assert torch.isclose(values["parse_rate"], torch.tensor(2 / 3))
    assert sum_error("nueve más nueve", "20") == 2.0
    assert sum_error("cinco, tres, ocho", "16") == 16.0  # near miss in form: unparseable, sum 0


def test_sum_mae_states_are_sums_so_processes_reduce_exactly():
    # Two "processes" merged must equal one process that saw everything.
    a, b, whole = SumMAE(), SumMAE(), SumMAE()
    a.update(["cinco"], ["7"])
    b.update(["tres más tres", "x"], ["6", "4"])
    whole.update(["cinco", "tres más tres", "x"], ["7", "6", "4"])
    a.merge_state(b)
    for key, value in whole.compute().items():
        assert torch.isclose(a.compute()[key], value)
    for name in ("abs_error", "exact", "parsed", "count"):
        assert a._reductions[name].__name__ == "dim_zero_sum"
