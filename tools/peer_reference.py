"""Compute, once, the peers' own LR sequences for the parity tests of their names (issue 27).

Runs transformers' and timm's schedulers (their code, at the installed version) over a grid of arguments and writes
``tests/parity/peer_reference.json``: per case, the peer name, its arguments, the base LR, the run's length and
the peer's multipliers (LR / base LR) at every step of the run and four past its end. The tests read that file and
need neither package; ``tests/parity/test_peer_names.py`` also compares live when they are importable.

    .venv/bin/python -m tools.peer_reference   # needs transformers and timm (pip install transformers timm)

The LR of step ``k`` is the one the optimizer holds for that step: transformers' ``LambdaLR`` before its
``k``-th ``step()``; timm's after ``scheduler.step(k)`` (per epoch) or ``step_update(k)`` (per update), as its
training loop calls them.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any

PAST_END = 4
OUT = os.path.join(os.path.dirname(__file__), '..', 'tests', 'parity', 'peer_reference.json')

# (peer name, kwargs, base LR): the Trainer's arguments first, then lr_scheduler_kwargs; absolute LRs with a base LR
# other than 1 (3e-4, 0.5, 10: transformers' own test optimizer).
HF_GRID: list[tuple[str, dict[str, Any], float]] = [
    ('linear', dict(num_warmup_steps=2, num_training_steps=10), 10.0),
    ('linear', dict(num_warmup_steps=0, num_training_steps=10), 1.0),
    ('linear', dict(num_warmup_steps=5, num_training_steps=37), 3e-4),
    ('cosine', dict(num_warmup_steps=2, num_training_steps=10), 10.0),
    ('cosine', dict(num_warmup_steps=0, num_training_steps=25), 1.0),
    ('cosine', dict(num_warmup_steps=3, num_training_steps=20, num_cycles=0.3), 1.0),
    ('cosine_with_restarts', dict(num_warmup_steps=2, num_training_steps=10, num_cycles=2), 10.0),
    ('cosine_with_restarts', dict(num_warmup_steps=0, num_training_steps=30, num_cycles=3), 1.0),
    ('cosine_with_restarts', dict(num_warmup_steps=4, num_training_steps=25, num_cycles=1.5), 1.0),
    ('polynomial', dict(num_warmup_steps=2, num_training_steps=10, power=2.0, lr_end=1e-7), 10.0),
    ('polynomial', dict(num_warmup_steps=3, num_training_steps=20, power=1.0, lr_end=1e-5), 3e-4),
    ('polynomial', dict(num_warmup_steps=0, num_training_steps=15, power=0.5, lr_end=0.0), 1.0),
    ('constant', dict(), 10.0),
    ('constant_with_warmup', dict(num_warmup_steps=4), 10.0),
    ('constant_with_warmup', dict(num_warmup_steps=0), 1.0),
    ('inverse_sqrt', dict(num_warmup_steps=4), 1.0),
    ('inverse_sqrt', dict(num_warmup_steps=0), 1.0),
    ('inverse_sqrt', dict(num_warmup_steps=3, timescale=7), 3e-4),
    ('cosine_with_min_lr', dict(num_warmup_steps=2, num_training_steps=10, min_lr_rate=0.1), 10.0),
    ('cosine_with_min_lr', dict(num_warmup_steps=3, num_training_steps=20, min_lr=1e-5), 3e-4),
    ('cosine_with_min_lr', dict(num_warmup_steps=0, num_training_steps=25, num_cycles=0.4, min_lr_rate=0.05), 1.0),
    ('cosine_warmup_with_min_lr', dict(num_warmup_steps=2, num_training_steps=10, min_lr_rate=0.1), 10.0),
    ('cosine_warmup_with_min_lr', dict(num_warmup_steps=1, num_training_steps=12, min_lr_rate=0.0), 1.0),
    ('cosine_warmup_with_min_lr', dict(num_warmup_steps=3, num_training_steps=20, min_lr=1e-5, warmup_lr_rate=0.2),
     3e-4),
    ('warmup_stable_decay', dict(num_warmup_steps=2, num_decay_steps=3, num_training_steps=10, min_lr_ratio=0.1),
     1.0),
    ('warmup_stable_decay', dict(num_warmup_steps=2, num_decay_steps=3, num_stable_steps=2, decay_type='1-sqrt'),
     1.0),
    ('warmup_stable_decay', dict(num_warmup_steps=0, num_decay_steps=4, num_training_steps=10, decay_type='linear'),
     0.5),
    ('warmup_stable_decay', dict(num_warmup_steps=5, num_decay_steps=6, num_training_steps=30, min_lr_ratio=0.05),
     3e-4),
]

_W = dict(warmup_epochs=3, warmup_lr=0.01)
TIMM_FACTORY_GRID: list[tuple[str, dict[str, Any], float]] = [
    ('cosine', dict(num_epochs=20, min_lr=0.05, **_W), 0.5),
    ('cosine', dict(num_epochs=20, min_lr=1e-5, warmup_prefix=True, k_decay=0.5, **_W), 3e-4),
    ('cosine', dict(num_epochs=20, k_decay=2.0, cooldown_epochs=3), 1.0),
    ('cosine', dict(num_epochs=4, warmup_epochs=1, warmup_lr=0.01, min_lr=0.05, step_on_epochs=False,
                    updates_per_epoch=5), 0.5),
    ('tanh', dict(num_epochs=20, min_lr=0.05, **_W), 0.5),
    ('tanh', dict(num_epochs=20, warmup_prefix=True, **_W), 0.5),
    ('tanh', dict(num_epochs=3, min_lr=0.01, step_on_epochs=False, updates_per_epoch=7), 1.0),
    ('poly', dict(num_epochs=20, min_lr=0.05, decay_rate=2.0, k_decay=1.5, **_W), 0.5),
    ('poly', dict(num_epochs=20, min_lr=0.05), 1.0),
    ('step', dict(num_epochs=20, decay_epochs=4, decay_rate=0.5, **_W), 0.5),
    ('step', dict(num_epochs=20, decay_epochs=4, decay_rate=0.5, warmup_prefix=True, **_W), 0.5),
    ('step', dict(num_epochs=4, decay_epochs=1, decay_rate=0.7, warmup_epochs=1, warmup_lr=0.01,
                  step_on_epochs=False, updates_per_epoch=6), 1.0),
    ('multistep', dict(num_epochs=20, decay_milestones=[4, 9, 15], decay_rate=0.5, **_W), 0.5),
    ('multistep', dict(num_epochs=20, decay_milestones=[4, 9, 15], decay_rate=0.5, warmup_prefix=True, **_W), 0.5),
    ('constant', dict(num_epochs=20, **_W), 0.5),
    ('wsd', dict(num_epochs=20, min_lr=0.01, **_W), 0.5),
    ('wsd', dict(num_epochs=20, decay_epochs=5, decay_fn='cosine', warmup_prefix=True, **_W), 0.5),
    ('wsd', dict(num_epochs=30, decay_epochs=0.3, decay_fn='linear', min_lr=1e-5), 3e-4),
    ('rsqrt', dict(num_epochs=20, min_lr=0.01, **_W), 0.5),
    ('rsqrt', dict(num_epochs=20, stable_timescale=2, decay_epochs=0.25, **_W), 1.0),
]

_CW = dict(warmup_t=3, warmup_lr_init=0.01)
TIMM_CLASS_GRID: list[tuple[str, dict[str, Any], float]] = [
    ('CosineLRScheduler', dict(t_initial=20, lr_min=0.05, **_CW), 0.5),
    ('CosineLRScheduler', dict(t_initial=20, lr_min=1e-5, warmup_prefix=True, k_decay=3.0, **_CW), 3e-4),
    ('CosineLRScheduler', dict(t_initial=30, warmup_t=4, warmup_lr_init=0.0, t_in_epochs=False), 1.0),
    ('TanhLRScheduler', dict(t_initial=20, lb=-5.0, ub=2.0, lr_min=0.02, **_CW), 0.5),
    ('PolyLRScheduler', dict(t_initial=20, lr_min=0.05, **_CW), 0.5),
    ('PolyLRScheduler', dict(t_initial=20, power=3.0, warmup_prefix=True, k_decay=0.7, **_CW), 1.0),
    ('StepLRScheduler', dict(decay_t=4, decay_rate=0.5, **_CW), 0.5),
    ('StepLRScheduler', dict(decay_t=3, decay_rate=0.8, warmup_t=0), 1.0),
    ('MultiStepLRScheduler', dict(decay_t=[4, 9, 15], decay_rate=0.5, **_CW), 0.5),
    ('MultiStepLRScheduler', dict(decay_t=[1, 6], decay_rate=0.3, warmup_prefix=False, **_CW), 1.0),
    ('WSDLRScheduler', dict(t_initial=17, decay_t=5, **_CW), 0.5),
    ('WSDLRScheduler', dict(t_initial=17, decay_t=5, decay_fn='linear', lr_min=0.05, **_CW), 0.5),
    ('WSDLRScheduler', dict(t_initial=17, decay_t=6, decay_fn='cosine', t_in_epochs=False, **_CW), 1.0),
]

# timm's LR noise (create_scheduler_v2's noise arguments): ours is the product of the schedule and lr_noise.
NOISE_GRID: list[tuple[str, dict[str, Any], float]] = [
    ('cosine', dict(num_epochs=20, min_lr=0.05, noise=[0.2, 0.8], noise_pct=0.5, noise_seed=3, **_W), 0.5),
    ('cosine', dict(num_epochs=4, noise=0.5, noise_std=0.3, noise_pct=0.4, noise_seed=11, step_on_epochs=False,
                    updates_per_epoch=5), 1.0),
    ('step', dict(num_epochs=10, decay_epochs=3, decay_rate=0.5, noise=0.3), 1.0),
]

# The run's length in steps when the arguments do not say it (constant schedules).
RUN_FOR = {'hf/constant': 10, 'hf/constant_with_warmup': 10, 'hf/inverse_sqrt': 20,
           'timm/StepLRScheduler': 20, 'timm/MultiStepLRScheduler': 20}


def _optimizer(lr: float) -> Any:
    import torch

    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def hf_sequence(name: str, kwargs: dict[str, Any], base_lr: float, steps: int) -> list[float]:
    """transformers' multipliers at steps ``0 .. steps - 1``."""
    from transformers import get_scheduler

    opt = _optimizer(base_lr)
    trainer_args = {k: kwargs[k] for k in ('num_warmup_steps', 'num_training_steps') if k in kwargs}
    rest = {k: v for k, v in kwargs.items() if k not in trainer_args}
    if name == 'constant_with_warmup' or name == 'constant':
        sched = get_scheduler(name, opt, **trainer_args)
    else:
        sched = get_scheduler(name, opt, scheduler_specific_kwargs=rest, **trainer_args)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]['lr'] / base_lr)
        opt.step()
        sched.step()
    return out


def timm_sequence(name: str, kwargs: dict[str, Any], base_lr: float, steps: int) -> list[float]:
    """timm's multipliers at steps ``0 .. steps - 1`` (its epochs, or its updates)."""
    import timm.scheduler as ts

    opt = _optimizer(base_lr)
    if name[0].isupper():
        sched = getattr(ts, name)(opt, **kwargs)
        per_epoch = kwargs.get('t_in_epochs', True)
    else:
        sched, _ = ts.create_scheduler_v2(opt, sched=name, **kwargs)
        per_epoch = kwargs.get('step_on_epochs', True)
    out = []
    for t in range(steps):
        if per_epoch:
            sched.step(t)
        else:
            sched.step_update(t)
        out.append(opt.param_groups[0]['lr'] / base_lr)
    return out


def run_length(key: str, kwargs: dict[str, Any]) -> int:
    """The run's length in the peer's steps, as our ScheduleLR takes it by default (or RUN_FOR)."""
    from composer_sched.adapters.spec import ScheduleSpec

    total = ScheduleSpec(key, base_lr=1.0, **kwargs).peer_total()
    return RUN_FOR[key] if total is None else int(total)


def cases() -> list[dict[str, Any]]:
    out = []
    grids = [('hf', HF_GRID, hf_sequence), ('timm', TIMM_FACTORY_GRID, timm_sequence),
             ('timm', TIMM_CLASS_GRID, timm_sequence)]
    for vocab, grid, fn in grids:
        for name, kwargs, base_lr in grid:
            key = f'{vocab}/{name}'
            run = run_length(key, kwargs)
            out.append(dict(peer=key, kwargs=kwargs, base_lr=base_lr, run=run,
                            multipliers=fn(name, kwargs, base_lr, run + PAST_END)))
    return out


def noise_cases() -> list[dict[str, Any]]:
    out = []
    for name, kwargs, base_lr in NOISE_GRID:
        plain = {k: v for k, v in kwargs.items() if not k.startswith('noise')}
        run = run_length(f'timm/{name}', plain)
        out.append(dict(peer=f'timm/{name}', kwargs=kwargs, base_lr=base_lr, run=run,
                        multipliers=timm_sequence(name, kwargs, base_lr, run + PAST_END)))
    return out


def main() -> int:
    import timm
    import torch
    import transformers

    warnings.filterwarnings('ignore')
    doc = {
        'about': 'LR multipliers of transformers\' and timm\'s schedulers, computed by tools/peer_reference.py from '
                 'the packages\' code; step k = the LR the optimizer holds for step k; run + 4 steps.',
        'transformers': {'version': transformers.__version__,
                         'file': 'src/transformers/optimization.py (get_scheduler and the get_*_schedule functions)'},
        'timm': {'version': timm.__version__,
                 'file': 'timm/scheduler/ (scheduler_factory.create_scheduler_v2 and the *LRScheduler classes)'},
        'torch': torch.__version__.split('+')[0],
        'past_end': PAST_END,
        'cases': cases(),
        'noise_cases': noise_cases(),
    }
    with open(OUT, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    print(f'wrote {len(doc["cases"])} cases to {os.path.normpath(OUT)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
