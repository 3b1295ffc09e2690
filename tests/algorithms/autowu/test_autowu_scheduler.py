"""AutoWUScheduler (plain PyTorch): synthetic loss curves with a known best LR, the reference's warm-up and decay
formulas, exact resume, NaN/inf losses, param-group ratios, argument validation and the seed's snippet."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from composer_sched import AutoWUScheduler as AutoWU
from composer_sched.algorithms.autowu.engine import AutoWUConfig

# A cheaper GP than the reference's (100/500/500 points) for the tests that are not about its constants.
CHEAP = dict(fit_points=40, predict_points=120, grid_points=120)


def synthetic_loss(lr: float, best: float, rng: np.random.Generator, noise: float = 0.02) -> float:
    """Loss of a step taken at ``lr``: quadratic in decades from ``best`` (the known best LR), plus noise."""
    return 1.0 + 0.5 * math.log10(lr / best) ** 2 + noise * rng.standard_normal()


def drive(sched: AutoWU, opt, steps: int, loss_fn, stop_after_switch: int | None = None):
    """Step ``sched`` with ``loss_fn(step, lr)``; return the LR of every step (first group)."""
    lrs = []
    for k in range(steps):
        lr = opt.param_groups[0]['lr']
        lrs.append(lr)
        sched.step(torch.tensor(loss_fn(k, lr), dtype=torch.float32))
        if stop_after_switch is not None and sched.switch_step is not None and \
                k + 1 >= sched.switch_step + stop_after_switch:
            break
    return lrs


def make(groups=(0.1,), **kw):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in groups]
    opt = torch.optim.SGD([{'params': [p], 'lr': lr} for p, lr in zip(params, groups)], lr=groups[0])
    kw.setdefault('min_lr', 1e-5)
    kw.setdefault('max_lr', 1.0)
    return AutoWU(opt, kw.pop('steps_per_epoch', 50), kw.pop('total_epochs', 100), **kw), opt


@pytest.mark.parametrize('best, gp_options', [(1e-3, {}), (1e-2, CHEAP)])
def test_switch_comes_well_before_the_cap_near_the_best_lr(best, gp_options):
    # The reference's constants for best=1e-3 (GP 100/500/500, 5 posteriors, p > 0.95, 3 tests in a row).
    sched, opt = make(immediate_cooldown=True, **gp_options)
    rng = np.random.default_rng(0)
    cap = sched.engine.cap
    t_best = cap * math.log(best / 1e-5) / math.log(1.0 / 1e-5)  # where the ramp passes the best LR
    drive(sched, opt, cap, lambda k, lr: synthetic_loss(lr, best, rng), stop_after_switch=1)
    assert sched.engine.switch_reason == 'test'
    # After the ramp passes the best LR (the test needs the loss to rise), and well before the cap: over 5 noise
    # seeds the switch came 10-30 % of the way from the best LR's step to the cap.
    assert t_best < sched.switch_step < min(t_best + 0.45 * (cap - t_best), 0.8 * cap), (sched.switch_step, t_best)
    assert abs(math.log10(sched.switch_lr / best)) < 0.3, sched.switch_lr
    # The decay starts from the LR at the estimated minimum, not the LR reached (the warm-up went further).
    assert sched.switch_lr < sched.engine.warmup_lr(sched.switch_step - 1)
    assert sched.engine.record[-sched.config.patience:] == [True] * sched.config.patience


def test_monotone_loss_never_passes_and_the_cap_switches_at_max_lr():
    sched, opt = make(steps_per_epoch=20, total_epochs=30, max_warmup_fraction=0.5, immediate_cooldown=True, **CHEAP)
    rng = np.random.default_rng(1)
    # The loss keeps falling as the LR grows (the best LR is beyond max_lr).
    lrs = drive(sched, opt, 600, lambda k, lr: 3.0 - 0.1 * math.log10(lr / 1e-5) + 0.01 * rng.standard_normal())
    assert sched.switch_step == 300 and sched.engine.switch_reason == 'cap'
    assert sched.switch_lr == pytest.approx(1.0)
    assert not any(t['passed'] for t in sched.engine.tests)
    # Cosine to 0 over the rest of training, from the cap LR.
    assert lrs[300] == pytest.approx(1.0) and lrs[450] == pytest.approx(0.5) and sched.get_last_lr()[0] == 0.0


def test_warmup_follows_the_reference_formulas():
    # Exponential: lr(t) = min_lr * (max_lr/min_lr)**(t/W) (the reference's ExponentialLR with gamma**(1/W)).
    sched, opt = make(steps_per_epoch=10, total_epochs=40, min_lr=1e-4, max_lr=1.0, warmup_only=True)
    w = 200
    lrs = drive(sched, opt, 150, lambda k, lr: 1.0)
    assert lrs == pytest.approx([1e-4 * (1e4) ** (t / w) for t in range(150)], rel=1e-12)
    # Linear: (1 - x) + x * max/min times min_lr, x = t/W.
    sched, opt = make(steps_per_epoch=10, total_epochs=40, min_lr=1e-4, max_lr=1.0, warmup_type='linear',
                      warmup_only=True)
    lrs = drive(sched, opt, 150, lambda k, lr: 1.0)
    assert lrs == pytest.approx([1e-4 * ((1 - t / w) + t / w * 1e4) for t in range(150)], rel=1e-12)
    # Per-epoch warm-up: constant within an epoch.
    sched, opt = make(steps_per_epoch=10, total_epochs=40, min_lr=1e-4, max_lr=1.0, warmup_unit='epoch',
                      warmup_only=True)
    lrs = drive(sched, opt, 40, lambda k, lr: 1.0)
    assert lrs == pytest.approx([1e-4 * (1e4) ** ((t // 10) / 20) for t in range(40)], rel=1e-12)


def test_constant_then_cosine_and_the_decay_factor_applies():
    # Hold then cosine over the last 20 %; decay_phase_factor=0.5 halves the held LR every epoch (the reference's
    # factor never applied).
    sched, opt = make(steps_per_epoch=10, total_epochs=20, max_warmup_fraction=0.25, immediate_cooldown=False,
                      cooldown_fraction=0.2, decay_phase_factor=0.5, warmup_only=True)
    lrs = drive(sched, opt, 200, lambda k, lr: 1.0)
    assert sched.switch_step == 50 and lrs[50] == pytest.approx(1.0)
    assert lrs[59] == pytest.approx(1.0) and lrs[60] == pytest.approx(0.5) and lrs[150] == pytest.approx(2 ** -10)
    held = 2 ** -11  # the held LR when the cool-down starts at step 160 (11 epoch ends at 60..160)
    for k in (160, 170, 180, 199):
        assert lrs[k] == pytest.approx(held * (1 + math.cos(math.pi * (k - 160) / 40)) / 2, rel=1e-9)


@pytest.mark.parametrize('shape', ['linear', 'sqrt'])
def test_linear_and_sqrt_cooldowns_reach_zero_at_the_end(shape):
    sched, opt = make(steps_per_epoch=10, total_epochs=10, max_warmup_fraction=0.3, immediate_cooldown=True,
                      cooldown_type=shape, warmup_only=True)
    lrs = drive(sched, opt, 100, lambda k, lr: 1.0)
    u = (80 - 30) / 70
    expected = 1 - u if shape == 'linear' else 1 - math.sqrt(u)
    assert lrs[30] == pytest.approx(1.0) and lrs[80] == pytest.approx(expected)
    assert sched.get_last_lr()[0] == pytest.approx(0.0)


def _plain(obj) -> bool:
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_plain(v) for v in obj)
    return obj is None or type(obj) in (bool, int, float, str)


def test_exact_resume_mid_warmup():
    best = 3e-3
    total = 2000

    def loss_fn(k, lr):  # the loss depends on the step (its noise) and on the LR in use
        return synthetic_loss(lr, best, np.random.default_rng(k))

    ref_sched, ref_opt = make(steps_per_epoch=40, total_epochs=50, immediate_cooldown=True, **CHEAP)
    ref = drive(ref_sched, ref_opt, total, loss_fn)
    assert ref_sched.switch_step is not None and ref_sched.switch_step > 400  # resume point is in the warm-up

    first, opt = make(steps_per_epoch=40, total_epochs=50, immediate_cooldown=True, **CHEAP)
    head = drive(first, opt, 400, loss_fn)
    saved = first.state_dict()
    assert _plain(saved) and saved['engine']['phase'] == 'warmup' and len(saved["engine"]["history"]) == 400
    saved = json.loads(json.dumps(saved))  # survives a plain-text round trip

    resumed, opt2 = make(steps_per_epoch=40, total_epochs=50, immediate_cooldown=True, **CHEAP)
    assert opt2.param_groups[0]['lr'] == pytest.approx(1e-5, rel=1e-12)  # a fresh scheduler restarts its warm-up ...
    resumed.load_state_dict(saved)
    assert opt2.param_groups[0]['lr'] == ref[400]  # ... a loaded one continues where it was
    tail = []
    for k in range(400, total):
        lr = opt2.param_groups[0]['lr']
        tail.append(lr)
        resumed.step(torch.tensor(loss_fn(k, lr), dtype=torch.float32))
    assert head + tail == ref  # bit-exact
    assert resumed.switch_step == ref_sched.switch_step and resumed.switch_lr == ref_sched.switch_lr


def test_nan_and_inf_losses_never_crash_nor_give_a_nan_lr():
    # Sporadic NaN/inf: ignored by the GP; the run still finds the best LR.
    sched, opt = make(immediate_cooldown=True, **CHEAP)
    rng = np.random.default_rng(2)

    def spiky(k, lr):
        if k % 7 == 3:
            return math.nan
        if k % 11 == 5:
            return math.inf
        return synthetic_loss(lr, 1e-3, rng)

    lrs = drive(sched, opt, 5000, spiky)
    assert all(math.isfinite(v) and v >= 0 for v in lrs)
    assert sched.engine.switch_reason == 'test' and abs(math.log10(sched.switch_lr / 1e-3)) < 0.3


@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf])
def test_a_diverging_run_switches_to_decay(bad):
    # Finite and decreasing, then non-finite from step 230 on: at the next test (step 250) the last 3 losses are
    # all non-finite, so it switches at once, to an LR at or before the last finite losses' LR.
    sched, opt = make(immediate_cooldown=True, **CHEAP)
    lrs = drive(sched, opt, 600, lambda k, lr: bad if k >= 230 else 2.0 - 1e-3 * k)
    assert sched.engine.switch_reason == 'diverged' and sched.switch_step == 250
    assert math.isfinite(sched.switch_lr) and sched.switch_lr <= lrs[229] * 1.0001
    assert all(math.isfinite(v) for v in lrs) and lrs[-1] < sched.switch_lr
    # Only non-finite losses from the start: it falls back to min_lr and never produces a NaN LR.
    sched, opt = make(immediate_cooldown=True, **CHEAP)
    lrs = drive(sched, opt, 200, lambda k, lr: bad)
    assert sched.engine.switch_reason == 'diverged' and sched.switch_lr == pytest.approx(1e-5, rel=1e-12)
    assert all(math.isfinite(v) for v in lrs)


def test_param_groups_keep_their_lr_ratios():
    sched, opt = make(groups=(0.1, 0.01, 0.5), steps_per_epoch=20, total_epochs=20, immediate_cooldown=True, **CHEAP)
    rng = np.random.default_rng(3)
    for k in range(400):
        a, b, c = (g['lr'] for g in opt.param_groups)
        assert b == pytest.approx(a * 0.1, rel=1e-12) and c == pytest.approx(a * 5, rel=1e-12)
        sched.step(torch.tensor(synthetic_loss(a, 1e-3, rng)))
    assert sched.switch_step is not None


@pytest.mark.parametrize('kwargs, name', [
    (dict(min_lr=1.0, max_lr=1.0), 'max_lr'),
    (dict(min_lr=0.5, max_lr=0.1), 'max_lr'),
    (dict(min_lr=0.0), 'min_lr'),
    (dict(max_warmup_fraction=1.5), 'max_warmup_fraction'),
    (dict(max_warmup_fraction=-0.1), 'max_warmup_fraction'),
    (dict(cooldown_fraction=1.2), 'cooldown_fraction'),
    (dict(cooldown_fraction=-0.5), 'cooldown_fraction'),
    (dict(warmup_type='cubic'), 'warmup_type'),
    (dict(warmup_unit='batch'), 'warmup_unit'),
    (dict(cooldown_type='half_cosine'), 'cooldown_type'),
    (dict(cooldown_type='step'), 'cooldown_type'),
    (dict(decay_phase_stat='acc'), 'decay_phase_stat'),
    (dict(decay_phase_factor=0.0), 'decay_phase_factor'),
    (dict(decay_phase_factor=1.5), 'decay_phase_factor'),
    (dict(steps_per_epoch=0), 'steps_per_epoch'),
    (dict(total_epochs=2.5), 'total_epochs'),
    (dict(test_interval=0), 'test_interval'),
    (dict(confidence=1.0), 'confidence'),
    (dict(patience=0), 'patience'),
    (dict(immediate_cooldown='yes'), 'immediate_cooldown'),
    (dict(not_an_option=1), 'not_an_option'),
])
def test_bad_arguments_raise_value_error_at_construction(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make(**kwargs)


def test_a_missing_or_non_scalar_loss_is_rejected():
    sched, _ = make()
    with pytest.raises(ValueError, match='loss'):
        sched.step(torch.ones(3))
    with pytest.raises(ValueError, match='loss=None'):
        sched.step()
    assert sched.engine.step == 0


def test_the_seed_snippet_runs_on_digits():
    # The seed's "Quick use" loop, with only its import changed.
    from composer_sched.data import digits_dataloaders
    from composer_sched.models import DigitsCNN

    torch.manual_seed(0)
    train_loader, _ = digits_dataloaders(batch_size=64)
    model = DigitsCNN(width=8)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    device = torch.device('cpu')
    total_epochs = 2
    scheduler = AutoWU(optimizer,
                       len(train_loader),  # the number of steps in one epoch
                       total_epochs,  # total number of epochs
                       immediate_cooldown=True,
                       cooldown_type='cosine',
                       device=device)
    losses = []
    for _ in range(total_epochs):
        for inputs, targets in train_loader:
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step(loss)
            losses.append(loss.item())
    steps = len(train_loader) * total_epochs
    assert scheduler.engine.step == steps and len(scheduler.engine.tests) >= 1
    assert all(math.isfinite(v) for v in scheduler.get_last_lr())
    # The second snippet (constant-then-cosine) constructs with the same arguments.
    AutoWU(optimizer, len(train_loader), total_epochs, immediate_cooldown=False, cooldown_type='cosine',
           cooldown_fraction=0.2, device=device)


def test_config_defaults_are_the_references():
    c = AutoWUConfig()
    assert (c.min_lr, c.max_lr, c.max_warmup_fraction, c.cooldown_fraction) == (1e-5, 1.0, 0.5, 0.2)
    assert (c.lengthscale, c.patience, c.n_preds, c.confidence) == (0.2, 3, 5, 0.95)
    assert (c.fit_points, c.predict_points, c.grid_points) == (100, 500, 500)
