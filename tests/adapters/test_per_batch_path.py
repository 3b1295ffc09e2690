"""The per-batch path is short (issue 24): from the function Composer's Trainer calls every batch (the LambdaLR
function ``compile_composer_scheduler`` makes) to the formula, at most 5 Python frames, for every registered method
with a warm-up, during the warm-up and after it. (``make bench`` keeps the cost of that call against Composer's.)"""
from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
import torch
from composer.core import Time
from composer.optim import compile_composer_scheduler

import composer_sched as cs
from composer_sched.adapters.durations import ReplayState
from composer_sched.schedules.registry import get_method, method_names

MAX_FRAMES = 5
#: Formulas that are whole functions (lr_noise's seeded draw, a re-implementation of torch's generator): the frames
#: inside them are the formula's own, not the path to it.
FORMULAS = {'timm_noise'}


def _deepest(fn, state_holder) -> tuple[int, list[str]]:
    """The most frames open below ``fn`` during one call, and that chain's function names."""
    deepest: list = [0, []]

    def profile(frame, event, arg):
        if event != 'call':
            return
        chain, f = [], frame
        while f is not None and f.f_code is not fn.__code__:
            chain.append(f.f_code.co_name)
            if f.f_code.co_name in FORMULAS:
                chain = [f.f_code.co_name]
            f = f.f_back
        if f is not None and len(chain) > deepest[0]:
            deepest[:] = [len(chain), chain[::-1]]

    sys.setprofile(profile)
    try:
        fn(0)
    finally:
        sys.setprofile(None)
    return deepest[0], deepest[1]


@pytest.mark.parametrize('method', method_names())
def test_a_batch_reaches_the_formula_in_at_most_five_frames(method):
    sched = cs.composer_scheduler(method, **get_method(method).example, t_warmup='4ba')
    replay = ReplayState(Time.from_timestring('100ba'), 10)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    state = SimpleNamespace(optimizers=[opt], timestamp=replay.timestamp, max_duration=replay.max_duration,
                            dataloader_len=replay.dataloader_len)
    fn = compile_composer_scheduler(sched, state, ssr=1.0).lr_lambdas[0]  # what the Trainer steps
    fn(0)  # the first call places the schedule on the run's horizon (once per run)
    for batch in range(100):
        if batch in (2, 4, 5, 50, 99):  # in the warm-up, at its end, after it
            depth, chain = _deepest(fn, state)
            assert depth <= MAX_FRAMES, f'batch {batch}: {" -> ".join(chain)}'
        replay.advance()
        state.timestamp = replay.timestamp


@pytest.mark.parametrize('face', ['scheduler', 'by_name', 'algorithm'])
def test_a_methods_arguments_are_validated_once_per_construction(face, monkeypatch):
    # Once: the config's checks run when the scheduler (or algorithm) is made, not again when it is placed on a
    # run's horizon (the core shape then only builds from what was checked).
    from composer_sched.schedules.wsd import WSDConfig

    calls = []
    original = WSDConfig.__post_init__
    monkeypatch.setattr(WSDConfig, '__post_init__', lambda self: (calls.append(1), original(self))[1])
    made = {'scheduler': lambda: cs.WSDScheduler(t_cooldown='0.3dur'),
            'by_name': lambda: cs.composer_scheduler('wsd', t_cooldown='0.3dur'),
            'algorithm': lambda: cs.WSD(t_cooldown='0.3dur')}[face]()
    assert len(calls) == 1
    sched = made if face != 'algorithm' else made.scheduler
    sched.schedule('100ba')
    sched.schedule('50ba')
    assert len(calls) == 1
