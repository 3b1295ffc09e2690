"""The tinylm recipes in a ratio sweep's plan (nothing trains): WSD's shorter ratios branch from the full run's
trunk, cosine's cannot; with 2 processes per run each rank sees half the batches."""
import pytest

from composer_sched.sweep.plan import plan_sweep
from composer_sched.sweep.target import SweepTarget

RATIOS = [0.25, 0.5, 0.75, 1.0]


def test_wsd_sweep_shares_trunks(tmp_path):
    loaded = SweepTarget('tinylm_wsd').load()
    plan = plan_sweep(loaded, RATIOS, [0], str(tmp_path))
    full = plan.budgets[1.0]
    assert plan.budgets == {r: round(r * full) for r in RATIOS}
    assert sum(plan.budgets.values()) == plan.independent_batches == 2.5 * full
    # Every shorter ratio branches where its cool-down (the last 0.2dur of its run) starts: the whole sweep costs
    # one full run plus 0.2 of each shorter one, 1.3 full runs instead of 2.5.
    assert plan.shared_batches / full == pytest.approx(1 + 0.2 * (0.25 + 0.5 + 0.75), abs=0.01)
    assert sum(1 for run in plan.runs if run.load_from) == 3


def test_cosine_sweep_trains_every_ratio_from_scratch(tmp_path):
    plan = plan_sweep(SweepTarget('tinylm_cosine').load(), RATIOS, [0], str(tmp_path))
    assert plan.shared_batches == plan.independent_batches
    assert any('cosine_annealing' in reason for reason in plan.reasons)
