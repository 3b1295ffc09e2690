"""Theorem 1 bounds: one horizon at T = 10^6, and the whole curve Omega_1..Omega_T in one pass.

Peers in the same run:
* one horizon: the plain vectorised numpy evaluation the paper package uses (suffix sums as ``total - cumsum``,
  negative ones clipped) against :func:`composer_sched.theory.compute_rate` (suffix sums accumulated from the end);
* the curve: one :func:`compute_rate` call per ``t`` (O(T^2), how the paper's scripts draw curves) against
  :func:`composer_sched.theory.bound_curve` (near field exact, far field by an exponential sum).
"""
from __future__ import annotations


import numpy as np

from benchmarks._timing import fmt, per_call
from composer_sched.theory import CosineSchedule, WSDSchedule, bound_curve, compute_rate


def plain_numpy(lrs, G, D, T):
    """The straightforward O(T) vectorisation: suffix sums by subtraction, negatives clipped."""
    eta = lrs[:T]
    g = eta ** 2 * G ** 2
    cs, cg = np.cumsum(eta), np.cumsum(g)
    alpha = cs[-1] - cs  # sum_{t > k}
    alpha[-1] += 1e-10
    beta = alpha + eta  # sum_{t >= k}
    gamma = cg[-1] - cg + g
    negative = int(np.sum(gamma < 0))
    np.seterr(divide='ignore')  # a suffix sum that cancels to 0 gives inf, shown in the report
    gamma = np.maximum(gamma, 0)
    t3 = 0.5 * np.sum((eta / alpha * gamma / beta)[:T - 1])
    return D ** 2 / (2 * cs[-1]) + cg[-1] / (2 * cs[-1]) + t3, negative


def main():
    T = 10 ** 6
    print(f'one horizon, T = {T:.0e} (median of 7):')
    for name, sched in (('wsd 0.2', WSDSchedule(steps=T + 1, cooldown_len=0.2, base_lr=1e-3)),
                        ('cosine', CosineSchedule(steps=T + 1, base_lr=1e-3))):
        lrs = sched.schedule
        t_plain = per_call(lambda: plain_numpy(lrs, 1.0, 1.0, T), number=1)
        t_ours = per_call(lambda: compute_rate(lrs, 1.0, 1.0, T), number=1)
        plain, negative = plain_numpy(lrs, 1.0, 1.0, T)
        ours = compute_rate(lrs, 1.0, 1.0, T)
        print(f'  {name:8s} plain numpy {fmt(t_plain):>9s}  compute_rate {fmt(t_ours):>9s}  ratio {t_ours / t_plain:.2f}x'
              f'  | clipped negative suffix sums in plain: {negative}, relative difference {abs(plain / ours - 1):.1e}')

    print('whole curve Omega_1..Omega_T (cosine, median of 3):')
    for T in (2000, 10000):
        lrs = CosineSchedule(steps=T + 1).schedule
        t_loop = per_call(lambda: [compute_rate(lrs, 1.0, 1.0, t) for t in range(1, T + 1)], number=1, repeat=3)
        t_curve = per_call(lambda: bound_curve(lrs, 1.0, 1.0, T), number=1, repeat=3)
        loop = np.array([compute_rate(lrs, 1.0, 1.0, t) for t in range(1, T + 1)])
        err = float(np.max(np.abs(bound_curve(lrs, 1.0, 1.0, T) / loop - 1)))
        print(f'  T = {T:>6d}: per-t loop {fmt(t_loop):>9s}  bound_curve {fmt(t_curve):>9s}  '
              f'speed-up {t_loop / t_curve:.0f}x  (max relative difference {err:.1e})')
    for T, repeat in ((10 ** 5, 3), (10 ** 6, 1)):
        lrs = CosineSchedule(steps=T + 1).schedule
        t_curve = per_call(lambda: bound_curve(lrs, 1.0, 1.0, T), number=1, repeat=repeat, warmup=False)
        t_one = per_call(lambda: compute_rate(lrs, 1.0, 1.0, T), number=1, repeat=3)
        print(f'  T = {T:>7.0e}: bound_curve {fmt(t_curve):>9s} = {t_curve / t_one:.0f} single-horizon calls '
              f'(the per-t loop would be {T} calls)')


if __name__ == '__main__':
    main()
