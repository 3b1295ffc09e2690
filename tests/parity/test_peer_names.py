"""transformers' and timm's schedule names over our methods (issue 27): our multipliers equal the peers' to 1e-7 at
every step of the run and four past its end, on a grid of arguments (absolute LRs with base LRs other than 1).

The peers' values were computed once by ``tools/peer_reference.py`` from their own code and carried into
``tests/parity/peer_reference.json`` (transformers 5.25.0, ``src/transformers/optimization.py``; timm 1.0.31,
``timm/scheduler/``; the versions are in the file). Neither package is needed here; when both are importable,
``test_the_carried_values_are_the_peers_own`` recomputes them live. transformers' own test-suite figures are below
too, with their citation. Where we deliberately differ past the end of the run, docs/peers.md says so and
``PAST_END_DIFFERS`` pins what we do instead.
"""
import json
import math
import os

import numpy as np
import pytest
import torch

from composer_sched.adapters.composer import ComposerScheduler
from composer_sched.adapters.spec import ScheduleSpec
from composer_sched.adapters.torch import ScheduleLR
from composer_sched.previewing import preview
from composer_sched.schedules.peers import PEERS

with open(os.path.join(os.path.dirname(__file__), 'peer_reference.json')) as _f:
    REFERENCE = json.load(_f)
CASES = REFERENCE['cases']
TOL = 1e-7


def _id(case):
    args = ','.join(f'{k}={v}' for k, v in case['kwargs'].items())
    return f"{case['peer']}({args})@{case['base_lr']:g}"


# transformers' cosine family is unclamped: past num_training_steps its cosine rises again (num_cycles=0.5: back to
# 38% of the peak 3 steps later); we hold the final value. Its hard restarts hold 0 past the end; our sgdr keeps
# cycling. Neither is reached inside the run (steps 0 .. T-1, and T).
PAST_END_DIFFERS = {'hf/cosine', 'hf/cosine_with_min_lr', 'hf/cosine_warmup_with_min_lr', 'hf/cosine_with_restarts'}


def _differs_past_end(case):
    # a cosine of fewer than half a wave (num_cycles < 0.5) has not reached its bottom at T: it goes on alike
    return case['peer'] in PAST_END_DIFFERS and (case['peer'] == 'hf/cosine_with_restarts'
                                                 or case['kwargs'].get('num_cycles', 0.5) == 0.5)


def _peer_lrs(case):
    return np.asarray(case['multipliers'])


def _ours_torch(case, steps=None):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=case['base_lr'])
    sched = ScheduleLR(opt, case['peer'], total_steps=case['run'], **case['kwargs'])
    out = []
    for _ in range(steps or len(case['multipliers'])):
        out.append(opt.param_groups[0]['lr'] / case['base_lr'])
        opt.step()
        sched.step()
    return np.asarray(out)


def _allowed_gap(case):
    """The one deliberate in-run difference: timm's tanh with a prefix warm-up ramps to the base LR and then
    starts its curve a hair below it (0.5 (1 + tanh(lb)), 8.3e-7 for lb = -7); our warm-up ramps to the curve's
    first value, so the ramp is at most that far below timm's."""
    k = case['kwargs']
    if case['peer'] == 'timm/tanh' and k.get('warmup_prefix') and k.get('warmup_epochs', 0) > 0:
        return 0.5 * (1 + math.tanh(-7.0))
    return 0.0


@pytest.mark.parametrize('case', CASES, ids=_id)
def test_torch_face_equals_the_peer(case):
    peer, ours = _peer_lrs(case), _ours_torch(case)
    run = case['run']
    gap = _allowed_gap(case)
    np.testing.assert_allclose(ours[:run], peer[:run], rtol=0, atol=TOL + gap)  # the run: steps 0 .. run - 1
    if _differs_past_end(case):  # we hold the final value (sgdr: restarts)
        assert np.all(ours[run:] == ours[run]) or case['peer'] == 'hf/cosine_with_restarts'
    else:
        np.testing.assert_allclose(ours[run:], peer[run:], rtol=0, atol=TOL)


@pytest.mark.parametrize('case', [c for c in CASES if _differs_past_end(c)], ids=_id)
def test_past_the_end_is_a_stated_difference(case):
    """The differences PAST_END_DIFFERS names are real (this fails when a peer changes its behaviour)."""
    peer, ours = _peer_lrs(case), _ours_torch(case)
    run = case['run']
    assert np.max(np.abs(ours[run:] - peer[run:])) > 1e-3


@pytest.mark.parametrize('case', [c for c in CASES if c['peer'].startswith('hf/')][::3]
                         + [c for c in CASES if c['peer'].startswith('timm/')][::4], ids=_id)
def test_composer_face_equals_the_peer(case):
    """The same name as a Composer scheduler (a recipe's), per batch; timm per epoch at each epoch's start. The
    Trainer steps its schedulers before the timestamp advances, so batch k + 1 trains with the value at time k
    (Composer's own convention, the same for every scheduler): preview()[k + 1] is the peer's step k."""
    run = case['run']
    per_epoch = PEERS[case['peer']].step_unit(case['kwargs']) == 'ep'
    sched = ComposerScheduler(case['peer'], base_lr=case['base_lr'], **case['kwargs'])
    if per_epoch:
        got = np.asarray(preview(sched, f'{run + 2}ep', dataloader_len=3))[1::3][:run]
    else:
        got = np.asarray(preview(sched, f'{run + 2}ba'))[1:run + 1]
    np.testing.assert_allclose(got, _peer_lrs(case)[:run], rtol=0, atol=TOL + _allowed_gap(case))


# transformers' own figures: huggingface/transformers, tests/optimization/test_optimization.py (commit
# 1001bb00bfeeac965908cdb4ab5c3d7ebe0c774f), ScheduleInitTest.test_schedulers: AdamW at lr=10, 10 steps, tol 1e-2.
HF_SUITE = {
    'constant': ({}, [10.0] * 10),
    'constant_with_warmup': ({'num_warmup_steps': 4}, [0.0, 2.5, 5.0, 7.5, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]),
    'linear': ({'num_warmup_steps': 2, 'num_training_steps': 10},
               [0.0, 5.0, 10.0, 8.75, 7.5, 6.25, 5.0, 3.75, 2.5, 1.25]),
    'cosine': ({'num_warmup_steps': 2, 'num_training_steps': 10},
               [0.0, 5.0, 10.0, 9.61, 8.53, 6.91, 5.0, 3.08, 1.46, 0.38]),
    'cosine_with_restarts': ({'num_warmup_steps': 2, 'num_training_steps': 10, 'num_cycles': 2},
                             [0.0, 5.0, 10.0, 8.53, 5.0, 1.46, 10.0, 8.53, 5.0, 1.46]),
    'polynomial': ({'num_warmup_steps': 2, 'num_training_steps': 10, 'power': 2.0, 'lr_end': 1e-7},
                   [0.0, 5.0, 10.0, 7.656, 5.625, 3.906, 2.5, 1.406, 0.625, 0.156]),
}


@pytest.mark.parametrize('name', sorted(HF_SUITE))
def test_transformers_own_test_values(name):
    kwargs, expected = HF_SUITE[name]
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=10.0)
    sched = ScheduleLR(opt, f'hf/{name}', total_steps=10, **kwargs)
    got = []
    for _ in range(10):
        got.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-2)
    # and it resumes: a fresh scheduler loaded with the state at step 5 continues identically (their save/reload)
    opt2 = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=10.0)
    again = ScheduleLR(opt2, f'hf/{name}', total_steps=10, **kwargs)
    again.load_state_dict(sched.state_dict())
    assert opt2.param_groups[0]['lr'] == opt.param_groups[0]['lr']


def test_a_ratio_scales_a_peer_schedule_like_ours():
    """num_training_steps left out: the run's (scaled) length; the warm-up is absolute and does not scale. So a
    half-budget run is transformers' schedule with num_training_steps = the run's batches."""
    case = next(c for c in CASES if c['peer'] == 'hf/cosine_with_min_lr' and c['base_lr'] == 10.0)
    args = {k: v for k, v in case['kwargs'].items() if k != 'num_training_steps'}
    sched = ComposerScheduler('hf/cosine_with_min_lr', **args)
    got = np.asarray(preview(sched, '20ba', ssr=0.5))[1:]
    np.testing.assert_allclose(got, _peer_lrs(case)[:9], rtol=0, atol=TOL)
    # num_training_steps given is an absolute length: it scales with the ratio, as our '100ba' does (20 -> 10)
    fixed = ComposerScheduler('hf/cosine_with_min_lr', **dict(case['kwargs'], num_training_steps=20))
    np.testing.assert_allclose(np.asarray(preview(fixed, '20ba', ssr=0.5))[1:], got, rtol=0, atol=TOL)


def test_warmup_stable_decay_infers_its_phases_from_the_total():
    """huggingface/transformers#34905: with only num_warmup_steps, stable and decay follow the run: the decay is the
    last 20% (our wsd's default), the stable phase the rest, on any run length."""
    for batches in (50, 120):
        lrs = np.asarray(preview(ComposerScheduler('warmup_stable_decay', num_warmup_steps=5, decay_type='linear'),
                                 f'{batches}ba'))[1:]  # the value at times 0 .. batches - 2 (see the Composer test)
        start = int(0.8 * batches)
        assert lrs[5] == lrs[start] == 1.0 and lrs[start + 1] < 1.0
        np.testing.assert_allclose(lrs[start:], 1 - (np.arange(start, batches - 1) - start) / (0.2 * batches),
                                   atol=1e-12)


@pytest.mark.parametrize('name, kwargs, needle', [
    ('hf/reduce_lr_on_plateau', {}, 'AutoWU'),
    ('timm/plateau', {}, 'loss-driven'),
    ('cosine_with_min_l', {}, "'hf/cosine_with_min_lr' (transformers)"),
    ('timm/cosin', {}, "'timm/cosine' (timm)"),
    ('cosine', {}, "'hf/cosine' or 'timm/cosine'"),
    ('hf/cosine_with_min_lr', {'num_warmup_steps': 2, 'min_lr_ratio': 0.1}, "did you mean 'min_lr_rate'"),
    ('hf/cosine_with_min_lr', {'num_warmup_steps': 2}, 'min_lr_rate=None is not allowed'),
    ('hf/polynomial', {'lr_end': 1e-5}, 'base_lr=...'),
    ('hf/cosine', {'num_cycles': 1}, 'num_cycles=1 is not allowed'),
    ('hf/cosine_warmup_with_min_lr', {'min_lr_rate': 0.1}, 'num_warmup_steps=0 is not allowed'),
    ('timm/cosine', {'warmup_epochs': 2}, "warmup_lr=1e-05 is not allowed: warmup_lr must be given with the"),
    ('timm/cosine', {'noise': 0.5}, 'lr_noise'),
    ('timm/cosine', {'cycle_limit': 2}, 'sgdr'),
    ('timm/wsd', {'decay_fn': 'exp'}, "decay_fn='exp' is not allowed"),
])
def test_bad_peer_input_names_the_argument(name, kwargs, needle):
    with pytest.raises(ValueError) as e:
        ScheduleSpec(name, **kwargs)
    assert needle in str(e.value)


def test_a_bare_name_only_transformers_has_works_on_the_torch_face():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    s = ScheduleLR(opt, 'cosine_with_min_lr', num_warmup_steps=3, num_training_steps=20, min_lr_rate=0.1)
    assert s.total_steps == 20 and repr(s.spec).startswith("ScheduleSpec('hf/cosine_with_min_lr'")
    case = next(c for c in CASES if c['peer'] == 'hf/cosine_with_min_lr' and c['base_lr'] == 3e-4)
    assert case['kwargs'] == dict(num_warmup_steps=3, num_training_steps=20, min_lr=1e-5)  # the same curve:
    np.testing.assert_allclose(_ours_torch(dict(case, kwargs=dict(num_warmup_steps=3, num_training_steps=20,
                                                                  min_lr_rate=1e-5 / 3e-4)))[:20],
                               _peer_lrs(case)[:20], rtol=0, atol=TOL)


def test_the_carried_values_are_the_peers_own():
    """Live: recompute every case with the installed transformers and timm (skipped when either is missing)."""
    pytest.importorskip('transformers')
    pytest.importorskip('timm')
    import timm
    import transformers

    from tools.peer_reference import hf_sequence, timm_sequence

    if (transformers.__version__, timm.__version__) != (REFERENCE['transformers']['version'],
                                                         REFERENCE['timm']['version']):
        pytest.skip(f'installed transformers {transformers.__version__} / timm {timm.__version__}; the reference '
                    'was computed with the versions in peer_reference.json')
    for case in CASES:
        vocab, name = case['peer'].split('/')
        fn = hf_sequence if vocab == 'hf' else timm_sequence
        live = fn(name, case['kwargs'], case['base_lr'], len(case['multipliers']))
        np.testing.assert_allclose(live, case['multipliers'], rtol=0, atol=1e-15, err_msg=_id(case))


def test_list_shows_the_peer_names_and_what_each_maps_to(capsys):
    from composer_sched.cli import main

    assert main(['list', '--hf']) == 0
    out = capsys.readouterr().out
    for line in ('hf/cosine_with_min_lr -> cosine_annealing', 'hf/warmup_stable_decay -> wsd',
                 'hf/reduce_lr_on_plateau -> refused: loss-driven', 'AutoWU'):
        assert line in out
    assert 'timm/' not in out
    assert main(['list', '--timm', 'tanh', 'rsqrt']) == 0
    out = capsys.readouterr().out
    assert 'timm/tanh -> tanh' in out and 'timm/rsqrt -> inverse_sqrt' in out and 'timm/cosine ' not in out


def test_the_peer_listing_imports_no_torch():
    import subprocess
    import sys

    code = ('import sys, io, contextlib\n'
            'from composer_sched.cli.peer_listing import print_peers\n'
            'with contextlib.redirect_stdout(io.StringIO()): print_peers(["hf", "timm"], [])\n'
            'assert "torch" not in sys.modules and "composer" not in sys.modules, "imported torch"\n')
    subprocess.run([sys.executable, '-c', code], check=True, timeout=120)


@pytest.mark.slow
def test_a_recipe_with_peer_names_sweeps_like_any_other(tmp_path, capsys):
    """A recipe with transformers' WSD, its phases inferred from the total: two ratios train and are recorded."""
    import composer_sched.recipes
    from composer_sched.cli import main

    base = os.path.join(os.path.dirname(composer_sched.recipes.__file__), 'yamls', 'digits_cnn.yaml')
    recipe = tmp_path / 'peers.yaml'
    recipe.write_text(f'base: {base}\nname: digits-peers\nschedulers:\n'
                      '  - {name: hf/warmup_stable_decay, num_warmup_steps: 2, min_lr_ratio: 0.1, '
                      'decay_type: 1-sqrt}\n')
    out = tmp_path / 'out'
    assert main(['sweep', str(recipe), '--ratios', '0.5,1', '--out', str(out), 'max_duration=1ep']) == 0
    text = capsys.readouterr().out
    assert os.path.getsize(out / 'results.sqlite') > 0 and 'recommendation: ratio' in text
    import sqlite3
    with sqlite3.connect(out / 'results.sqlite') as db:
        assert db.execute('select count(*) from runs').fetchone()[0] >= 2
