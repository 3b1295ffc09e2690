"""Shared trunks: which ratios branch where, what it saves, and that a branch equals an independent run exactly."""
import numpy as np
import pytest
import torch

from composer_sched.adapters.composer import ComposerScheduler
from composer_sched.previewing import preview
from composer_sched.sweep.execute import execute_run
from composer_sched.sweep.plan import RunSpec, branch_points, parse_ratios, plan_sweep
from composer_sched.sweep.target import SweepTarget

SMALL = ('max_duration=2ep', 'schedulers[0].t_warmup=4ba', 'schedulers[0].t_cooldown=0.2dur')


def test_wsd_branch_points_are_exact_prefixes():
    sched = [ComposerScheduler('wsd', t_warmup='10ba', t_cooldown='0.2dur')]
    ratios = [0.25, 0.5, 0.75, 1.0]
    budgets, points, reasons = branch_points(sched, '1000ba', ratios, dataloader_len=50)
    assert reasons == [] and set(points) == {0.25, 0.5, 0.75}
    assert budgets == {0.25: 250, 0.5: 500, 0.75: 750, 1.0: 1000}
    full = preview(sched, '1000ba', dataloader_len=50)
    for r, b in points.items():
        short = preview(sched, '1000ba', dataloader_len=50, ssr=r)
        assert np.array_equal(short[:b + 1], full[:b + 1])  # every LR up to the branch is the trunk's
        assert short[b + 1] != full[b + 1]  # and the branch is as late as it can be
        # The cool-down (0.2 of the post-warm-up span) starts right after the branch.
        assert b == pytest.approx(budgets[r] - 0.2 * (budgets[r] - 10), abs=1.5)


def test_trunk_cost_for_four_ratios_of_wsd_with_20_percent_cooldown():
    sched = [ComposerScheduler('wsd', t_cooldown='0.2dur')]
    budgets, points, _ = branch_points(sched, '2000ba', [0.25, 0.5, 0.75, 1.0], dataloader_len=100)
    shared = sum(budgets.values()) - sum(points.values())
    assert sum(budgets.values()) / budgets[1.0] == pytest.approx(2.5)
    assert shared / budgets[1.0] == pytest.approx(1.3, abs=0.01)


def test_cosine_runs_independently_with_a_reason():
    sched = [ComposerScheduler('cosine_annealing', t_warmup='10ba')]
    _, points, reasons = branch_points(sched, '200ba', [0.5, 1.0], dataloader_len=20)
    assert points == {}
    assert len(reasons) == 1 and "'cosine_annealing' changes shape with the budget" in reasons[0]


def test_budget_free_method_whose_prefix_differs_is_not_shared():
    # A scaled warm-up makes even WSD's prefix depend on the ratio: the preview check catches it.
    sched = [ComposerScheduler('wsd', t_warmup='50ba', scale_warmup=True, t_cooldown='0.1dur')]
    _, points, reasons = branch_points(sched, '200ba', [0.5, 1.0], dataloader_len=20)
    assert points == {} and 'ratio 0.5 runs on its own' in reasons[0]


def test_recipe_with_algorithms_is_not_shared():
    sched = [ComposerScheduler('wsd')]
    _, points, reasons = branch_points(sched, '200ba', [0.5, 1.0], dataloader_len=20, algorithms=['ema'])
    assert points == {} and 'ema' in reasons[0]


def test_bad_ratios_are_value_errors_naming_the_option():
    for text in ('0,1', '-0.5', 'a,1', 'nan', '0.5,0.5', 'inf'):
        with pytest.raises(ValueError, match='--ratios='):
            parse_ratios(text)
    assert parse_ratios('1,0.25, 0.5') == [0.25, 0.5, 1.0]
    loaded = SweepTarget(None, ('max_duration=2ep',)).load()
    with pytest.raises(ValueError, match='ratio 0.01 does not fit the schedule: .*reduces max_duration'):
        plan_sweep(loaded, [0.01, 1.0], [0], '/tmp/unused')  # 0 of 44 batches


def test_branch_equals_independent_run_exactly(tmp_path):
    target = SweepTarget(None, SMALL)
    loaded = target.load()
    plan = plan_sweep(loaded, [0.5, 1.0], [3], str(tmp_path / 'ckpt'))
    trunk, branch = plan.runs
    assert trunk.save_at and branch.load_from and branch.trunk_id == trunk.run_id
    h = loaded.fingerprint
    rows = {}
    for name, spec in (('trunk', trunk), ('branch', branch), ('alone', RunSpec(branch.run_id, 0.5, 3))):
        rows[name] = execute_run(target, spec, h, save_weights=str(tmp_path / f'{name}.pt'))
        assert rows[name]['status'] == 'done', rows[name].get('error')
    b, alone = rows['branch'], rows['alone']
    assert b['branched_from'] == trunk.run_id and b['branch_batch'] == branch.branch_batch
    assert b['trained_batches'] == b['batches'] - branch.branch_batch < alone['trained_batches'] == alone['batches']
    assert b['batches'] == alone['batches'] and b['samples'] == alone['samples']
    assert b['metrics'] == alone['metrics'] and b['metrics']
    wb, wa = torch.load(tmp_path / 'branch.pt'), torch.load(tmp_path / 'alone.pt')
    assert list(wb) == list(wa)
    for k in wb:
        assert torch.equal(wb[k], wa[k]), k
    # ... and it is not trivially the trunk's end state.
    wt = torch.load(tmp_path / 'trunk.pt')
    assert not all(torch.equal(wt[k], wb[k]) for k in wb)


def test_a_recipe_with_two_schedulers_sweeps_their_product():
    """Issue 14, decision 5: a sweep plans with the scheduler its runs train with (one ProductScheduler for a
    recipe's two schedulers, whose values multiply); a product of budget-free prefixes shares trunks, a product with
    a budget-bound factor does not, naming it."""
    from composer_sched.adapters.product import ProductScheduler
    from composer_sched.sweep.plan import sharing_blocker

    pair = 'schedulers=[{name: wsd, t_cooldown: 0.2dur}, {name: constant, alpha: 0.5}]'
    loaded = SweepTarget(None, ('max_duration=2ep', pair)).load()
    (sched,) = loaded.schedulers()
    assert isinstance(sched, ProductScheduler) and len(sched.factors) == 2
    np.testing.assert_allclose(preview(sched, loaded.max_duration, dataloader_len=loaded.dataloader_len),
                               loaded.recipe.preview(), rtol=1e-12)
    assert loaded.recipe.preview().max() == pytest.approx(0.5)  # the product: WSD's peak 1 x the constant 0.5
    assert sharing_blocker([sched]) is None
    plan = plan_sweep(loaded, [0.5, 1.0], [0], '/tmp/unused')
    assert plan.shared_batches < plan.independent_batches  # the 0.5 run branches from the trunk
    cosine = ProductScheduler(ComposerScheduler('wsd'), ComposerScheduler('cosine_annealing'))
    assert "'cosine_annealing' changes shape with the budget" in sharing_blocker([cosine])
