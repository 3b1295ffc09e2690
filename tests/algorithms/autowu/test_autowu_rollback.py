"""AutoWU's rollback: on divergence the weights and optimizer state of the last healthy test before the blow-up
come back. Engine choices on synthetic losses (exact by construction), the scheduler's ``model=`` hook, and a real
Composer run forced to blow up (``max_lr=100``): finite weights, the restored weights bit-equal to those of the
snapshot step, the loss after the restore back near its pre-blow-up level, and exact resume across the rollback."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from composer import Trainer
from composer.core import Callback

from composer_sched import AutoWU, AutoWUScheduler
from composer_sched.algorithms.autowu.engine import SNAPSHOTS, AutoWUConfig, AutoWUEngine
from composer_sched.data import digits_dataloaders
from composer_sched.models import digits_cnn

torch.set_num_threads(1)

CHEAP = dict(fit_points=40, predict_points=120, grid_points=120)


def _engine(**kw):
    cfg = dict(min_lr=1e-2, max_lr=10.0, max_warmup_fraction=0.75, immediate_cooldown=True, test_interval=10,
               **CHEAP)
    cfg.update(kw)
    return AutoWUEngine(AutoWUConfig(**cfg), total_steps=240, steps_per_epoch=20, rollback=True)


def _fall_then_blowup(seed, onset=104):
    rng = np.random.default_rng(seed)
    t = np.arange(180, dtype=float)
    y = np.where(t < 40, 2.3, np.maximum(2.3 - 0.03 * (t - 40), 0.8)) + 0.03 * rng.standard_normal(180)
    y[onset:] = 2.3 + 0.03 * rng.standard_normal(180 - onset)
    return y


def _drive(eng, losses):
    taken = []
    for v in losses:
        eng.observe(float(v))
        if eng.snapshot_due:
            taken.append(eng.step)
        if eng.switch_step is not None:
            break
    return taken


@pytest.mark.parametrize('onset', [100, 102, 103, 104])
def test_the_engine_restores_the_last_healthy_snapshot_before_the_blowup(onset):
    # Tests every 10 steps; the weights after step s produce losses y[s], y[s+1], ... A snapshot is restored only
    # if most of the 5 losses from it on are below the blow-up threshold: with the first bad loss at y[100] or
    # y[102] the step-100 weights blew up at once and the step-90 ones come back; from y[103] on, step 100's.
    eng = _engine()
    taken = _drive(eng, _fall_then_blowup(0, onset))
    assert eng.switch_reason == 'diverged' and eng.switch_step == 110
    assert taken[-2:] == [90, 100] and all(k % 10 == 0 for k in taken)
    assert eng.restore_step == (90 if onset <= 102 else 100)
    assert eng.snapshot_steps == [] and not eng.snapshot_due  # dropped at the switch


def test_no_snapshot_while_the_loss_is_rising_toward_a_blowup():
    # A spike half-way to the blow-up threshold makes its test unhealthy (no snapshot), but not divergence.
    y = _fall_then_blowup(1, onset=150)
    y[95] = 2.2
    eng = _engine()
    taken = _drive(eng, y)
    assert 100 not in taken and 90 in taken and 110 in taken
    assert eng.switch_reason == 'diverged' and eng.restore_step == 140


def test_a_switch_by_test_in_a_partial_blowup_also_restores():
    # The loss falls to 0.8, then from step 105 sits at 1.7: below the blow-up threshold (0.8 + 0.8 * 1.5 = 2.0),
    # so not divergence, but more than half-way to it. The GP test switches (the minimum is behind); the run
    # restores the last snapshot whose weights still produced losses near the best (step 100, not 110).
    y = _fall_then_blowup(3, onset=105)
    y[105:] -= 0.6
    eng = _engine()
    _drive(eng, y)
    assert eng.switch_reason == 'test' and eng.restore_step == 100
    # A clean switch by test (no rise at all) restores nothing.
    eng = _engine()
    _drive(eng, 1.0 + 1.3 * ((np.arange(180) - 100) / 100) ** 2 + 0.02 * np.random.default_rng(4).standard_normal(180))
    assert eng.switch_reason == 'test' and eng.restore_step is None


def test_engine_without_rollback_keeps_no_snapshot_steps():
    eng = AutoWUEngine(AutoWUConfig(min_lr=1e-2, max_lr=10.0, test_interval=10, **CHEAP), 240, 20)
    taken = _drive(eng, _fall_then_blowup(0))
    assert taken == [] and eng.restore_step is None and eng.switch_reason == 'diverged'


def test_scheduler_model_hook_restores_weights_and_optimizer_state():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = AutoWUScheduler(opt, 20, 12, min_lr=1e-2, max_lr=10.0, max_warmup_fraction=0.75,
                            immediate_cooldown=True, test_interval=10, model=model, **CHEAP)
    weights, momenta = {}, {}
    for k, v in enumerate(_fall_then_blowup(0), start=1):
        model(torch.ones(1, 3)).sum().backward()
        opt.step()
        opt.zero_grad()
        sched.step(float(v))
        if sched.switch_step is not None:
            break
        weights[k] = model.weight.detach().clone()
        momenta[k] = opt.state[model.weight]['momentum_buffer'].clone()
        if k == 95:  # a state saved mid-warm-up carries its copies (torch.save round trip)
            assert sorted(sched.state_dict()['snapshots']) == [80, 90]
    assert sched.engine.restore_step == 100 and sched.snapshots.saved == {}
    assert torch.equal(model.weight, weights[100])
    assert torch.equal(opt.state[model.weight]['momentum_buffer'], momenta[100])
    assert opt.param_groups[0]['lr'] == pytest.approx(sched.switch_lr)


def test_rollback_argument_is_validated_and_shown():
    with pytest.raises(ValueError, match='rollback'):
        AutoWU(rollback='yes')
    assert 'rollback=False' in repr(AutoWU(rollback=False)) and 'rollback' not in repr(AutoWU())
    with pytest.raises(ValueError, match='model'):
        AutoWUScheduler(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))]), 10, 2, model='net')


# --------------------------------------------------------------------------------------------- real Composer run
# Forced to blow up: LR 100 at the cap (step 120) is far past where this CNN diverges, and patience=50 keeps the
# GP test from switching first (it sometimes catches the minimum just before the blow-up).
ALGO = dict(min_lr=1e-2, max_lr=100.0, max_warmup_fraction=0.75, immediate_cooldown=True, test_interval=10,
            patience=50, **CHEAP)


class Trace(Callback):
    """LR and loss of every batch, and the weights after it (after AutoWU's BATCH_END: post-restore)."""

    def __init__(self):
        self.lrs, self.losses, self.weights = [], [], []

    def before_train_batch(self, state, logger):
        self.lrs.append(state.optimizers[0].param_groups[0]['lr'])

    def batch_end(self, state, logger):
        self.losses.append(state.total_loss_dict['loss/train/total'])
        self.weights.append(torch.cat([p.detach().reshape(-1).clone() for p in state.model.parameters()]))


def _trainer(algo, trace, seed, **kwargs):
    torch.manual_seed(seed)
    model = digits_cnn(width=8)
    train, _ = digits_dataloaders(batch_size=32, seed=seed)
    return Trainer(model=model, train_dataloader=train, optimizers=torch.optim.SGD(model.parameters(), lr=0.1),
                   algorithms=[algo], callbacks=[trace], device='cpu', progress_bar=False, log_to_console=False,
                   loggers=[], seed=seed, max_duration='8ep', train_subset_num_batches=20, **kwargs)


@pytest.fixture(scope='module')
def blown_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp('autowu_rollback')
    algo, trace = AutoWU(**ALGO), Trace()
    _trainer(algo, trace, seed=1, save_folder=str(folder), save_interval='1ep', save_filename='ep{epoch}.pt').fit()
    return algo, trace, folder


@pytest.fixture(scope='module')
def other_run():
    """A second seed (model init and data order), so the claims below rest on two trajectories."""
    algo, trace = AutoWU(**ALGO), Trace()
    _trainer(algo, trace, seed=2).fit()
    return algo, trace


@pytest.mark.slow
@pytest.mark.parametrize('which', ['blown_run', 'other_run'])
def test_a_blown_up_real_run_is_rolled_back_and_trains_on(which, request):
    algo, trace = request.getfixturevalue(which)[:2]
    eng = algo.engine
    # The blow-up rule fires and restores.
    assert eng.switch_reason == 'diverged' and eng.restore_step is not None
    s, r = eng.switch_step, eng.restore_step
    assert r < s and algo.snapshots.saved == {}  # copies freed after the switch
    # Bit-equal to the weights after the snapshot step; finite at the end.
    assert torch.equal(trace.weights[s - 1], trace.weights[r - 1])
    assert all(bool(torch.isfinite(w).all()) for w in trace.weights[s - 1:])
    # Training continues from the restored weights: the next 10 losses are near the pre-blow-up level (the 10
    # losses up to the snapshot), not at the blown-up level before the restore, and the run trains on.
    before = float(np.mean(trace.losses[r - 10:r]))
    blown = float(np.mean(trace.losses[s - 10:s]))
    after = float(np.mean(trace.losses[s:s + 10]))
    assert after < before + 0.2 and after < blown, (before, blown, after, trace.losses[r - 10:s + 10])
    assert float(np.mean(trace.losses[-20:])) < 1.0


@pytest.mark.slow
def test_exact_resume_across_the_rollback(blown_run):
    algo, trace, folder = blown_run
    eng = algo.engine
    # The last checkpoint in the warm-up that holds a snapshot (epochs are 20 batches).
    epoch = (eng.switch_step - 1) // 20
    saved = torch.load(folder / f'ep{epoch}.pt', weights_only=False)['state']['algorithms'][0][1]
    assert saved['engine']['phase'] == 'warmup' and saved['snapshots'], saved['engine']['snapshot_steps']
    assert len(saved['snapshots']) <= SNAPSHOTS
    resumed, trace2 = AutoWU(**ALGO), Trace()
    _trainer(resumed, trace2, seed=1, load_path=str(folder / f'ep{epoch}.pt')).fit()
    assert resumed.engine.restore_step == eng.restore_step
    assert trace2.lrs == trace.lrs[20 * epoch:]
    assert trace2.losses == trace.losses[20 * epoch:]
    assert all(torch.equal(a, b) for a, b in zip(trace2.weights, trace.weights[20 * epoch:]))
