"""The continuation of a finished run of each kind of schedule (issue 23): planned from what its final checkpoint
records (here: the previewed LR of each batch, as a real checkpoint's stamp holds it), it is continuous at the join,
re-warms no faster than its re-warm, then follows the from-scratch run's whole decay, resampled, to its floor."""
import numpy as np
import pytest

from composer_sched.recipes import load_recipe
from composer_sched.recipes.checkpoints import CheckpointInfo
from composer_sched.sweep.continuation import plan_continuation
from composer_sched.sweep.plan import ratio_curves
from composer_sched.sweep.target import loaded_target

SCHEDULES = ['cosine_annealing', 'linear', 'wsd', 'sgdr', 'polynomial', 'one_cycle', 'multi_step', 'product']
DECAY_TO_FLOOR = ['cosine_annealing', 'linear', 'wsd', 'polynomial', 'one_cycle', 'product']


def _finished(target) -> CheckpointInfo:
    """What the final checkpoint of the recipe's run holds (its stamp and optimizer LR), without training it."""
    lr = target.recipe.lr
    old = ratio_curves(target, [1.0])[1.0] * lr
    end = float(old[-1])  # the LR it was about to apply (a schedule at its floor: its last value)
    state = {'optimizers': {'SGD': {'param_groups': [{'lr': end, 'initial_lr': lr}]}}}
    return CheckpointInfo('final.pt', state, len(old), {'fingerprint': target.recipe.fingerprint(), 'batch': len(old),
                                                        'total': len(old), 'lrs': [float(v) for v in old]})


@pytest.mark.parametrize('name', SCHEDULES)
def test_the_continuation_of_a_finished_run_is_continuous_and_ends_as_the_longer_run(name):
    if name == 'product':  # a recipe's product of schedulers (one of them Composer's own)
        recipe = load_recipe(None, ['max_duration=2ep', 'schedulers=[{name: cosine_annealing}, '
                                    '{name: composer.multi_step, milestones: [30ba], gamma: 0.5}]'])
    else:
        recipe = load_recipe(f'schedules/{name}', ['max_duration=2ep'])
    target = loaded_target(recipe)
    info = _finished(target)
    plan = plan_continuation(target, info, 2.0, 'final.pt')
    n, m = plan.old_batches, plan.batches
    new = ratio_curves(target, [2.0])[2.0]
    a = plan.applied()
    assert (n, m) == (44, 88) and len(plan.table) >= 12
    np.testing.assert_allclose(a[:n], np.asarray(info.lrs) / target.recipe.lr, rtol=1e-12, atol=1e-15)
    assert a[n] == pytest.approx(info.state['optimizers']['SGD']['param_groups'][0]['lr'] / target.recipe.lr)
    w, p, s = plan.chosen.rewarm, plan.chosen.peak, plan.schedule.start
    assert np.abs(np.diff(a[n - 1:n + w + 1])).max() <= max(abs(p - s) / w, abs(a[n] - a[n - 1])) * (1 + 1e-9)
    tail = np.asarray(plan.schedule.tail)
    top, floor = tail[0], tail.min()
    if name in DECAY_TO_FLOOR:  # the longer run's end, at its floor
        assert a[-1] == pytest.approx(new[-1], rel=1e-6, abs=1e-9)
    # In general: the longer run's end mapped from [floor, its LR at the join] to [floor, peak] (SGDR ends mid-cycle,
    # above its floor; a step schedule whose end is flat holds the peak).
    want = floor + (p - floor) * (new[-1] - floor) / (top - floor) if top > floor else p
    assert a[-1] == pytest.approx(want, rel=1e-4, abs=1e-9)
    assert np.isfinite(a).all() and (a >= 0).all()
    # The default peak is the recipe's own (the from-scratch run's maximum), at the re-warm the bound ranks lowest.
    assert p == pytest.approx(new.max(), rel=1e-6)
    assert plan.chosen.bound == min(c.bound for c in plan.table if c.peak == p)
    a2 = new[int(np.argmax(new >= new.max() * (1 - 1e-12))):]  # the from-scratch run from its top to its end
    if name == 'wsd':
        # A stable phase and a cool-down shorter than the tail: the stable phase fills the rest, the cool-down is the
        # from-scratch run's as it is (here 34 of its 88 batches).
        cool = a2[np.flatnonzero(a2 < a2[0] * (1 - 1e-12))[0]:]
        assert 1 < cool.size < tail.size
        np.testing.assert_allclose(tail[tail.size - cool.size:], cool, rtol=1e-12, atol=1e-15)
        assert (tail[:tail.size - cool.size] == top).all()
        return
    # Any other: the from-scratch run's whole decay from its top to its floor, resampled over the rest of the budget;
    # not its last values (for a cosine its steep second half, a smaller LR area).
    xs = np.linspace(0, a2.size - 1, tail.size)
    np.testing.assert_allclose(tail, np.interp(xs, np.arange(a2.size), a2), rtol=1e-12, atol=1e-15)
    # So its mean (the LR area per batch) is that of the from-scratch run's decay: for a cosine about half the
    # peak, where the run's last values (its steep second half, scaled to the peak) have about 0.37 of it.
    assert np.mean(tail) == pytest.approx(np.mean(a2), rel=0.03)
    if name == 'cosine_annealing':
        end = new[-tail.size:]  # mapped to run from the top to the floor, as the continuation maps its tail
        end = floor + (top - floor) * (end - end.min()) / (end[0] - end.min())
        assert np.mean(tail) > np.mean(end) + 0.1
