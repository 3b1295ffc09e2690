"""lr_noise, the method added the documented way (issue 27): timm's deterministic per-step LR noise. Against torch's
own generator (what timm draws from), against timm's sequences carried in tests/parity/peer_reference.json (timm
1.0.31, timm/scheduler/scheduler.py Scheduler._add_noise, through create_scheduler_v2's noise arguments), composed
with a schedule as a recipe composes it, and the same on two ranks (Composer's launcher, gloo on CPU). Resume from a
checkpoint is the registry-wide test's (tests/algorithms/methods/test_algorithm_resume.py, lr_noise included)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from composer_sched.adapters.composer import ComposerScheduler
from composer_sched.adapters.product import ProductScheduler
from composer_sched.adapters.spec import ScheduleSpec
from composer_sched.previewing import preview
from composer_sched.schedules.lr_noise import NoiseSchedule, timm_noise

with open(Path(__file__).parents[1] / 'parity' / 'peer_reference.json') as _f:
    NOISE_CASES = json.load(_f)['noise_cases']


def _torch_noise(seed, noise_type='normal', pct=0.67, std=1.0):
    # timm's Scheduler._calculate_noise, written out against torch (timm/scheduler/scheduler.py, timm 1.0.31)
    g = torch.Generator()
    g.manual_seed(seed)
    if noise_type == 'normal':
        while True:
            noise = torch.randn(1, generator=g).item() * std
            if abs(noise) < pct:
                return noise
    return 2 * (torch.rand(1, generator=g).item() - 0.5) * pct


@pytest.mark.parametrize('noise_type, pct, std', [('normal', 0.67, 1.0), ('normal', 0.05, 2.0),
                                                  ('uniform', 0.3, 1.0)])
def test_the_noise_is_torchs_draw(noise_type, pct, std):
    # pct=0.05 with std=2 redraws ~98% of the time: the cached second sample and long redraw chains are exercised
    for seed in list(range(0, 300)) + [2 ** 31, 2 ** 32 - 1]:
        assert timm_noise(seed, noise_type, pct, std) == _torch_noise(seed, noise_type, pct, std), seed


def _noise_factor(case):
    """timm's noise arguments as our lr_noise (its range is a fraction of t_initial, in timm's steps)."""
    k = case['kwargs']
    per_epoch = k.get('step_on_epochs', True)
    unit = 'ep' if per_epoch else 'ba'
    t_initial = k['num_epochs'] * (1 if per_epoch else k['updates_per_epoch'])
    rng = k['noise'] if isinstance(k['noise'], list) else [k['noise']]
    lo = rng[0] * t_initial
    hi = rng[1] * t_initial if len(rng) > 1 else 10 ** 9  # one value: no end
    return ComposerScheduler('lr_noise', t_step=f'1{unit}', t_start=f'{lo:g}{unit}', t_end=f'{hi:g}{unit}',
                             pct=k.get('noise_pct', 0.67), std=k.get('noise_std', 1.0), seed=k.get('noise_seed', 42))


@pytest.mark.parametrize('case', NOISE_CASES, ids=lambda c: f"{c['peer']}:{c['kwargs']}")
def test_composed_with_a_schedule_it_is_timms_sequence(case):
    k = case['kwargs']
    plain = ComposerScheduler(case['peer'], base_lr=case['base_lr'],
                              **{n: v for n, v in k.items() if not n.startswith('noise')})
    product = ProductScheduler(plain, _noise_factor(case))
    run, peer = case['run'], np.asarray(case['multipliers'])
    if k.get('step_on_epochs', True):  # per epoch: the value at each epoch's start (preview()[k + 1] is time k)
        got = np.asarray(preview(product, f'{run + 5}ep', dataloader_len=2))[1::2][:run + 4]
    else:
        got = np.asarray(preview(product, f'{run + 5}ba'))[1:run + 5]
    np.testing.assert_allclose(got, peer, rtol=0, atol=1e-7)
    # and the noise is there: the schedule alone is off by more than 1% somewhere
    if k.get('step_on_epochs', True):
        alone = np.asarray(preview(plain, f'{run + 5}ep', dataloader_len=2))[1::2][:run + 4]
    else:
        alone = np.asarray(preview(plain, f'{run + 5}ba'))[1:run + 5]
    assert np.max(np.abs(got / np.maximum(alone, 1e-12) - 1)) > 0.01


def test_bad_input_names_the_argument():
    for kwargs, needle in [(dict(pct=0), 'pct=0 is not allowed'), (dict(seed=-1), 'seed=-1 is not allowed'),
                           (dict(seed=1.5), 'seed=1.5 is not allowed'),
                           (dict(noise_type='gauss'), 'noise_type must be one of'), (dict(pct=1.5), 'pct=1.5'),
                           (dict(pct=0.01, std=2.0), 'std=2.0 is not allowed'),
                           (dict(t_step=0), 't_step=0.0 is not allowed')]:
        with pytest.raises(ValueError, match=needle):
            ComposerScheduler('lr_noise', **kwargs).schedule('10ba')
    with pytest.raises(ValueError, match='seed'):  # seed + step must stay below 2**32 over the run
        ComposerScheduler('lr_noise', seed=2 ** 32 - 5).schedule('10ba')


def test_the_noise_is_a_function_of_the_step_only():
    s = NoiseSchedule(step=3, start=0, end=30, seed=5)
    v = s(np.arange(40))
    assert np.all(v[:30].reshape(10, 3) == v[:30:3, None]) and np.all(v[30:] == 1.0)  # one draw per step of 3
    assert [s(t) for t in range(40)] == v.tolist()  # the scalar path: the same numbers
    assert ScheduleSpec('lr_noise').method.run_clock


@pytest.mark.slow
def test_two_ranks_draw_the_same_noise(two_rank_runs):
    ranks = two_rank_runs('lr_noise')  # lr_noise_two_ranks.py under Composer's launcher (tests/launch.py)
    assert [r['world_size'] for r in ranks] == [2, 2]
    assert ranks[0]['lrs'] == ranks[1]['lrs'] and len(ranks[0]['lrs']) == 12
    expected = 0.1 * preview(ProductScheduler(ComposerScheduler('hf/cosine_with_min_lr', min_lr_rate=0.1),
                                              ComposerScheduler('lr_noise', t_start='2ba', pct=0.3, seed=7)), '12ba')
    np.testing.assert_allclose(ranks[0]['lrs'], expected, rtol=1e-12)
    assert len(set(np.round(np.asarray(ranks[0]['lrs'][3:]) / expected[3:], 12))) == 1  # and noise was applied:
    assert np.std(np.asarray(ranks[0]['lrs'][3:]) / (0.1 * preview(
        ComposerScheduler('hf/cosine_with_min_lr', min_lr_rate=0.1), '12ba')[3:])) > 0.01


def test_a_step_too_small_for_the_horizon_is_refused_naming_the_step_not_an_overflow():
    # Found by the registry fuzz (t_step=1e-300dur): t / step overflowed int() mid-evaluation.
    from composer_sched.schedules.lr_noise import NoiseSchedule

    with pytest.raises(ValueError, match=r'^step=1e-300 is not allowed: step must be >= 2\.328e-10 on this horizon'):
        NoiseSchedule(step=1e-300).check_horizon(1.0)
    quiet = NoiseSchedule(step=1e-300, start=0, end=0)  # no noise step at all: nothing to draw, nothing to refuse
    quiet.check_horizon(1.0)
    assert quiet(0.5) == quiet(0) == 1.0
