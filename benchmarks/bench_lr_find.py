"""The LR range test's cost against the training it runs: ``lr_find`` over 100 batches of the digits CNN (SGD,
batch 64, whole ramp) against the same 100 plain training steps, and its two extras on their own: the copy and
restore of model, optimizer and RNG state, and reading the six suggestions from the record (the GP fit).

The peer is the plain loop (what fastai/Lightning also run, plus their checkpoint file round trip); the target is an
overhead of a small fraction of the steps themselves.
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from benchmarks._timing import fmt
from composer_sched.lr_find import Snapshot, lr_find, smooth, suggest_all


def _setup():
    from composer_sched.models import DigitsCNN

    torch.manual_seed(0)
    model = DigitsCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    data = [(torch.randn(64, 1, 8, 8, generator=g), torch.randint(0, 10, (64,), generator=g)) for _ in range(25)]
    return model, opt, data


def _median(fn, repeat=5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    model, opt, data = _setup()
    ce = torch.nn.functional.cross_entropy
    n = 100

    def plain():
        for i in range(n):
            x, y = data[i % len(data)]
            opt.zero_grad(set_to_none=True)
            ce(model(x), y).backward()
            opt.step()

    def finder():
        lr_find(model, opt, ce, data, min_lr=1e-4, max_lr=10, num_batches=n, stop_factor=None)

    def snapshot():
        Snapshot(model, opt).restore()

    res = lr_find(model, opt, ce, data, min_lr=1e-4, max_lr=10, num_batches=n, stop_factor=None)
    sm = smooth(res.losses)

    def analysis():
        suggest_all(res.lrs, res.losses, sm, num_batches=n)

    t_plain, t_find = _median(plain), _median(finder)
    t_snap, t_read = _median(snapshot), _median(analysis)
    print(f'{n} plain training steps (digits CNN, batch 64):  {fmt(t_plain)}')
    print(f'lr_find over {n} batches:                      {fmt(t_find)}  ({t_find / t_plain:.2f}x the steps)')
    print(f'  snapshot + restore (model, optimizer, RNGs): {fmt(t_snap)}  ({t_snap / t_plain:.3f}x)')
    print(f'  reading the six suggestions (GP fit):        {fmt(t_read)}  ({t_read / t_plain:.3f}x)')
    print('  suggestions: ' + ', '.join(f'{k} {res[k]:.3g}' for k in ('valley', 'gp_minimum', 'peak')
                                         if res[k] is not None and np.isfinite(res[k])))


if __name__ == '__main__':
    main()
