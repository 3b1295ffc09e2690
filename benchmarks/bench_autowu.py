"""AutoWU's cost: time added per training step against the step itself, and one GP test as the loss history grows
from 10^3 to 10^5 steps (it must stay flat: the test subsamples a bounded number of points).

Peers in the same run: a plain training step of the digits CNN (batch 64, SGD) is the unit; AutoWU's per-step
``scheduler.step(loss)`` (loss kept as a tensor, no sync) and its amortised cost with one test per epoch are
measured against it. The GP test uses the reference's constants (fit on 100 points, 5 posteriors on 500 points,
500-point grid).
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from benchmarks._timing import fmt
from composer_sched.algorithms.autowu.engine import AutoWUConfig, AutoWUEngine
from composer_sched.algorithms.autowu.scheduler import AutoWUScheduler


def train_step_time(steps: int = 60) -> tuple[float, float, float]:
    """Median seconds of a plain step, of ``scheduler.step(loss)`` alone, and of a step with AutoWU."""
    from composer_sched.models import DigitsCNN

    torch.manual_seed(0)
    model = DigitsCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    sched = AutoWUScheduler(opt, steps_per_epoch=10_000, total_epochs=100)  # no test inside the timing

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    for _ in range(10):
        step()
    plain, alone, with_autowu = [], [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        t1 = time.perf_counter()
        sched.step(loss)
        t2 = time.perf_counter()
        plain.append(t1 - t0)
        alone.append(t2 - t1)
        with_autowu.append(t2 - t0)
    return statistics.median(plain), statistics.median(alone), statistics.median(with_autowu)


def gp_test_times(sizes, repeat: int = 7) -> dict[int, float]:
    """Median seconds of the step that runs a test after ``n`` warm-up losses (flush, GP fit, 5 posteriors), for
    each ``n``; the sizes are interleaved so a change in machine load hits them all alike."""
    rng = np.random.default_rng(0)
    histories = {}
    for n in sizes:
        t = np.arange(n) / n
        histories[n] = (1 + (t - 0.6) ** 2 + 0.05 * rng.standard_normal(n)).tolist()
    times: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(repeat):
        for n in sizes:
            engine = AutoWUEngine(AutoWUConfig(test_interval=n), total_steps=4 * n, steps_per_epoch=n)
            engine.load_state_dict({'step': n - 1, 'phase': 'warmup', 'history': histories[n][:-1], 'record': [],
                                    'switch_step': None, 'switch_lr': None})
            start = time.perf_counter()
            engine.observe(histories[n][-1])
            times[n].append(time.perf_counter() - start)
            assert len(engine.tests) == 1
    return {n: statistics.median(v) for n, v in times.items()}


def main() -> None:
    torch.set_num_threads(1)
    plain, alone, both = train_step_time()
    print(f'digits CNN training step (batch 64):     {fmt(plain):>10}')
    print(f'AutoWU scheduler.step(loss), no test:    {fmt(alone):>10}   {alone / plain:6.2%} of the step')
    print(f'step + AutoWU:                           {fmt(both):>10}   {both / plain:6.3f}x the step')
    sizes = (1_000, 10_000, 100_000)
    tests = gp_test_times(sizes)
    for n in sizes:
        print(f'GP test after {n:>7,} steps:            {fmt(tests[n]):>10}   {tests[n] / tests[sizes[0]]:5.2f}x '
              f'the 10^3 test')
    for spe in (22, 313):  # digits at batch 64; ResNet-50 on ImageNet at 4K (the reference's setting)
        amortised = alone + tests[10_000] / spe
        print(f'amortised AutoWU per step, test every {spe:>3} steps: {fmt(amortised):>10}   '
              f'{amortised / plain:6.2%} of the digits step')


if __name__ == '__main__':
    main()
