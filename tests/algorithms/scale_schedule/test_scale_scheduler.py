"""scale_scheduler(...): every case steps the scaled scheduler and compares it with one built for the scaled budget."""
import math

import pytest
import torch
from composer.core import State, Time, TimeUnit
from composer.devices import DeviceCPU
from composer.optim import CosineAnnealingWithWarmupScheduler, compile_composer_scheduler
from torch.optim import lr_scheduler as L

from composer_sched import ScheduleLR, scale_scheduler
from composer_sched.algorithms.scale_schedule import DilatedSchedule
from composer_sched.schedules import LinearWarmUp, StableDecaySchedule


def opt(lr=1.0, momentum=0.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr, momentum=momentum)


def lrs(sched, n, metrics=None):
    """The LR after construction and after each of ``n`` steps."""
    out = [sched.optimizer.param_groups[0]['lr']]
    for k in range(n):
        sched.optimizer.step()
        sched.step(metrics[k]) if metrics is not None else sched.step()
        out.append(sched.optimizer.param_groups[0]['lr'])
    return out


def check_same(make_orig, ssr, make_ref, n, **kw):
    scaled = scale_scheduler(make_orig(opt()), ssr, **kw)
    ref = make_ref(opt())
    got, want = lrs(scaled, n), lrs(ref, n)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    return got


@pytest.mark.parametrize('ssr, size', [(0.5, 5), (2.0, 20), (0.25, 2)])  # int(2.5) = 2: Composer truncates
def test_step_lr(ssr, size):
    got = check_same(lambda o: L.StepLR(o, step_size=10, gamma=0.5), ssr, lambda o: L.StepLR(o, size, 0.5), 45)
    assert got[size] == 0.5 and got[size - 1] == 1.0  # first decay on the scaled step


def test_step_lr_never_becomes_zero():
    with pytest.raises(ValueError, match=r'ssr=0\.04.*StepLR\.step_size=10.*>= 1'):
        scale_scheduler(L.StepLR(opt(), step_size=10), 0.04)


@pytest.mark.parametrize('milestones, ssr, want', [
    ([10, 20], 0.5, [5, 10]),
    ([10, 20], 1.5, [15, 30]),
    ([30, 31, 60], 0.1, [3, 3, 6]),     # 3.0 and 3.1 both truncate to 3: two decays there, as in Composer
    ([10, 10, 20], 0.5, [5, 5, 10]),    # a milestone the user repeated keeps its multiplicity
])
def test_multistep_lr(milestones, ssr, want):
    got = check_same(lambda o: L.MultiStepLR(o, milestones, gamma=0.5), ssr, lambda o: L.MultiStepLR(o, want, 0.5), 40)
    assert got[-1] == pytest.approx(0.5 ** len(milestones))  # every decay applied


@pytest.mark.parametrize('make, ssr, attr, want', [
    (lambda o: L.StepLR(o, step_size=3), 0.5, 'step_size', 1),                      # rounding gave 2
    (lambda o: L.MultiStepLR(o, [30, 50]), 0.75, 'milestones', {22: 1, 37: 1}),     # rounding gave 23, 38
    (lambda o: L.CosineAnnealingLR(o, T_max=9), 0.5, 'T_max', 4),
])
def test_counts_truncate_as_composer(make, ssr, attr, want):
    """The issue's cases: ours equals Composer's own scale_pytorch_scheduler (which the Trainer applies)."""
    from composer.trainer._scale_schedule import scale_pytorch_scheduler
    ours, theirs = scale_scheduler(make(opt()), ssr), make(opt())
    scale_pytorch_scheduler(theirs, ssr)
    assert getattr(ours, attr) == getattr(theirs, attr) == want


def test_a_count_truncated_to_zero_is_a_clear_error():
    with pytest.raises(ValueError, match=r'ssr=0\.3 reduces MultiStepLR\.milestones\[3\]=3 to 0\.9.* truncates to 0'):
        scale_scheduler(L.MultiStepLR(opt(), [3, 10]), 0.3)


def test_exponential_lr_is_dilated():
    got = check_same(lambda o: L.ExponentialLR(o, 0.9), 2.0, lambda o: L.ExponentialLR(o, 0.9 ** 0.5), 20)
    assert got[2 * 7] == pytest.approx(0.9 ** 7)  # the value at t in the original is reached at t * ssr


@pytest.mark.parametrize('ssr, t_max', [(0.5, 50), (1.3, 130)])
def test_cosine_lr(ssr, t_max):
    check_same(lambda o: L.CosineAnnealingLR(o, T_max=100), ssr, lambda o: L.CosineAnnealingLR(o, T_max=t_max), 140)


def test_cosine_lr_keeps_warmup_with_orig_max_epochs():
    # E = 100 epochs, T_max = 90: a 10-epoch warm-up precedes the cosine and stays; T_max' = 100*0.5 - 10.
    check_same(lambda o: L.CosineAnnealingLR(o, T_max=90), 0.5, lambda o: L.CosineAnnealingLR(o, T_max=40), 60,
               orig_max_epochs=100)


@pytest.mark.parametrize('interval', ['step', 'batch', 'steps', 'ba'])
def test_cosine_lr_per_batch_any_interval_spelling(interval):
    # 20 epochs of 10 steps; T_max = 180 steps after a 20-step warm-up: T_max' = 200*0.5 - 20 = 80.
    def make(o):
        s = L.CosineAnnealingLR(o, T_max=180)
        s.interval, s.steps_per_epoch = interval, 10  # what the old hparams attached
        return s
    check_same(make, 0.5, lambda o: L.CosineAnnealingLR(o, T_max=80), 100, orig_max_epochs=20)
    check_same(lambda o: L.CosineAnnealingLR(o, T_max=180), 0.5, lambda o: L.CosineAnnealingLR(o, T_max=80), 100,
               orig_max_epochs=20, steps_per_epoch=10)


def test_cosine_lr_bad_orig_max_epochs():
    with pytest.raises(ValueError, match='T_max=90 is longer than orig_max_epochs'):
        scale_scheduler(L.CosineAnnealingLR(opt(), T_max=90), 0.5, orig_max_epochs=9)
    s = L.CosineAnnealingLR(opt(), T_max=90)
    s.interval = 'minute'
    with pytest.raises(ValueError, match="interval='minute' is not allowed"):
        scale_scheduler(s, 0.5, orig_max_epochs=100)
    with pytest.raises(ValueError, match='orig_max_epochs=0'):
        scale_scheduler(L.CosineAnnealingLR(opt(), T_max=90), 0.5, orig_max_epochs=0)


@pytest.mark.parametrize('t_mult', [1, 2])
@pytest.mark.parametrize('ssr, t0', [(0.5, 5), (2.0, 20)])
def test_cosine_warm_restarts_takes_effect(t_mult, ssr, t0):
    got = check_same(lambda o: L.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=t_mult), ssr,
                     lambda o: L.CosineAnnealingWarmRestarts(o, T_0=t0, T_mult=t_mult), 70)
    assert got[t0] == pytest.approx(1.0)  # the first restart happens on the scaled step


def test_linear_lr_decay_scales_warmup_does_not():
    check_same(lambda o: L.LinearLR(o, 1.0, 0.1, total_iters=20), 0.5, lambda o: L.LinearLR(o, 1.0, 0.1, 10), 25)
    check_same(lambda o: L.LinearLR(o, 0.1, 1.0, total_iters=5), 0.5, lambda o: L.LinearLR(o, 0.1, 1.0, 5), 10)


def test_constant_lr_warmup_is_not_scaled():
    check_same(lambda o: L.ConstantLR(o, factor=0.5, total_iters=6), 0.5, lambda o: L.ConstantLR(o, 0.5, 6), 10)


def test_polynomial_lr():
    check_same(lambda o: L.PolynomialLR(o, total_iters=20, power=2.0), 0.5, lambda o: L.PolynomialLR(o, 10, 2.0), 25)


def _seq(o, t_max, warm=True):
    first = L.LinearLR(o, 0.1, 1.0, total_iters=5) if warm else L.ExponentialLR(o, 0.9)
    return L.SequentialLR(o, [first, L.CosineAnnealingLR(o, T_max=t_max)], milestones=[5])


def test_sequential_lr_keeps_leading_warmup():
    # After the 5-step warm-up: int(95 * 0.5) = 47.
    check_same(lambda o: _seq(o, 95), 0.5, lambda o: _seq(o, 47), 60)


def test_sequential_lr_fits_the_budget_with_orig_max_epochs():
    # E = 100: the 95 steps after the warm-up are fitted into 100*0.5 - 5 = 45.
    check_same(lambda o: _seq(o, 95), 0.5, lambda o: _seq(o, 45), 60, orig_max_epochs=100)


def test_sequential_lr_without_warmup_scales_everything():
    def make(o, gamma, size, m):
        return L.SequentialLR(o, [L.ExponentialLR(o, gamma), L.StepLR(o, size, 0.5)], milestones=[m])
    check_same(lambda o: make(o, 0.9, 10, 20), 2.0, lambda o: make(o, 0.9 ** 0.5, 20, 40), 90)


def test_chained_scheduler():
    def make(o, gamma):
        return L.ChainedScheduler([L.LinearLR(o, 0.1, 1.0, total_iters=5), L.ExponentialLR(o, gamma)], o)
    check_same(lambda o: make(o, 0.95), 2.0, lambda o: make(o, 0.95 ** 0.5), 30)


@pytest.mark.parametrize('three_phase', [False, True])
@pytest.mark.parametrize('ssr, total', [(0.5, 50), (1.5, 150)])
def test_one_cycle_lr(three_phase, ssr, total):
    def make(o, n):
        return L.OneCycleLR(o, max_lr=1.0, total_steps=n, three_phase=three_phase)
    scaled = scale_scheduler(make(opt(momentum=0.9), 100), ssr)
    ref = make(opt(momentum=0.9), total)
    assert lrs(scaled, total - 1) == pytest.approx(lrs(ref, total - 1), rel=1e-9)


@pytest.mark.parametrize('mode, gamma', [('exp_range', 0.99), ('triangular2', 1.0)])
def test_cyclic_lr(mode, gamma):
    def make(o, up, down, g):
        return L.CyclicLR(o, base_lr=0.1, max_lr=1.0, step_size_up=up, step_size_down=down, mode=mode, gamma=g,
                          cycle_momentum=False)
    check_same(lambda o: make(o, 10, 6, gamma), 2.0, lambda o: make(o, 20, 12, gamma ** 0.5), 100)


def test_reduce_lr_on_plateau():
    metrics = [1.0, 0.9] + [0.9] * 30
    def make(o, patience, cooldown):
        return L.ReduceLROnPlateau(o, patience=patience, cooldown=cooldown, factor=0.5)
    scaled = scale_scheduler(make(opt(), 4, 2), 0.5)
    assert (scaled.patience, scaled.cooldown) == (2, 1)
    assert lrs(scaled, 30, metrics) == lrs(make(opt(), 2, 1), 30, metrics)


def _wsd(length, cooldown):
    return LinearWarmUp(StableDecaySchedule(length=length, cooldown_length=cooldown), start_lr=0.0, length=10)


def test_lambda_lr_with_a_core_schedule():
    check_same(lambda o: L.LambdaLR(o, _wsd(90, 18)), 0.5, lambda o: L.LambdaLR(o, _wsd(45, 9)), 70)
    # With the budget E = 100: the 90 steps after the warm-up are fitted into 100*0.5 - 10 = 40.
    check_same(lambda o: L.LambdaLR(o, _wsd(90, 18)), 0.5, lambda o: L.LambdaLR(o, _wsd(40, 8)), 60,
               orig_max_epochs=100)
    # Without a warm-up it is a pure dilation; scaling twice composes.
    s = scale_scheduler(scale_scheduler(L.LambdaLR(opt(), StableDecaySchedule(100, 20)), 0.5), 0.5)
    assert lrs(s, 30) == pytest.approx(lrs(L.LambdaLR(opt(), StableDecaySchedule(25, 5)), 30))


def test_lambda_lr_with_an_opaque_function_is_refused():
    with pytest.raises(ValueError, match=r'LambdaLR\.lr_lambdas\[0\].*composer_sched Schedule'):
        scale_scheduler(L.LambdaLR(opt(), lambda k: 0.9 ** k), 0.5)


def _state(max_duration):
    model = torch.nn.Linear(2, 2)
    from composer.models import ComposerClassifier
    state = State(model=ComposerClassifier(model, num_classes=2), rank_zero_seed=0, run_name='x',
                  device=DeviceCPU(), max_duration=max_duration)
    state.optimizers = torch.optim.SGD(state.model.parameters(), lr=1.0)
    return state


def test_lambda_lr_compiled_from_a_composer_scheduler():
    # What Trainer(scale_schedule_ratio=0.5) compiles, against the ssr=1 compilation scaled afterwards.
    sched = CosineAnnealingWithWarmupScheduler(t_warmup='3ba')
    state = _state('20ba')
    scaled = scale_scheduler(compile_composer_scheduler(sched, state, 1.0), 0.5)
    state.max_duration = Time(10, TimeUnit.BATCH)
    ref_state = _state('10ba')
    ref = compile_composer_scheduler(sched, ref_state, 0.5)
    got, want = [], []
    for k in range(10):
        for st, s, out in ((state, scaled, got), (ref_state, ref, want)):
            st.timestamp = st.timestamp.to_next_batch()
            s.step()
            out.append(st.optimizers[0].param_groups[0]['lr'])
    assert got == want and want[2] == pytest.approx(1.0)  # the 3-batch warm-up is not scaled


def test_lambda_lr_one_arg_composer_function_is_refused():
    state = _state('20ba')
    with pytest.raises(ValueError, match=r'takes only \(state\).*ssr=0\.5'):
        scale_scheduler(compile_composer_scheduler(lambda st: 1.0, state, 1.0), 0.5)


def test_schedule_lr_hook_and_composition():
    ref = ScheduleLR(opt(), 'wsd', total_steps=25, t_warmup=5, t_cooldown='0.2dur')
    s = ScheduleLR(opt(), 'wsd', total_steps=100, t_warmup=5, t_cooldown='0.2dur')
    scale_scheduler(scale_scheduler(s, 0.5), 0.5)
    assert lrs(s, 30) == pytest.approx(lrs(ref, 30))


class HalvingLR(L.LRScheduler):
    """A third-party scheduler with the duck-typed hook: halves the LR every ``period`` steps."""

    def __init__(self, optimizer, period):
        self.period = period
        super().__init__(optimizer)

    def get_lr(self):
        return [b * 0.5 ** (self.last_epoch // self.period) for b in self.base_lrs]

    def scale_schedule(self, ssr):
        self.period = round(self.period * ssr)


def test_any_scheduler_with_a_scale_schedule_hook():
    check_same(lambda o: HalvingLR(o, 8), 0.5, lambda o: HalvingLR(o, 4), 20)


def test_unknown_scheduler_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match=r'cannot scale a MultiplicativeLR.*scale_schedule\(ssr\)'):
        scale_scheduler(L.MultiplicativeLR(opt(), lambda k: 0.9), 0.5)
    s = L.MultiplicativeLR(opt(), lambda k: 0.9)
    assert scale_scheduler(s, 1.0) is s  # ratio 1 leaves any scheduler alone


@pytest.mark.parametrize('bad', [0, -1.0, math.inf, math.nan, True, '0.5', None])
def test_bad_ssr(bad):
    with pytest.raises(ValueError, match=r'ssr=.* is not allowed: ssr must be a finite number > 0'):
        scale_scheduler(L.StepLR(opt(), 10), bad)


def test_recursive_scheduler_must_be_fresh():
    s = L.StepLR(opt(), 10)
    s.optimizer.step()
    s.step()
    with pytest.raises(ValueError, match='StepLR has already stepped 1 times'):
        scale_scheduler(s, 0.5)


def test_dilated_schedule_validates_and_dilates():
    d = DilatedSchedule(StableDecaySchedule(10, 2), 2.0)
    assert [d(t) for t in (16, 18, 20)] == [1.0, 0.5, 0.0]
    with pytest.raises(ValueError, match='ratio=0'):
        DilatedSchedule(StableDecaySchedule(10, 2), 0)
