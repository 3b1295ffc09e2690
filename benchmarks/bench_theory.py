"""Theorem 1 bounds: one horizon at T = 10^6, and the whole curve Omega_1..Omega_T in one pass.

Peers in the same run:
* one horizon: the plain vectorised numpy evaluation the paper package uses (suffix sums as ``total - cumsum``,
  negative ones clipped) against :func:`composer_sched.theory.compute_rate` (suffix sums accumulated from the end);
* the curve: one :func:`compute_rate` call per ``t`` (O(T^2), how the paper's scripts draw curves) against
  :func:`composer_sched.theory.bound_curve` (near field exact, far field by an exponential sum);
* a paper class (a face over a registered method) against evaluating that method's schedule on the same steps: the
  face should cost about what the method does.
"""
from __future__ import annotations

import numpy as np

from benchmarks._timing import fmt, per_call
from composer_sched.schedules.registry import get_method
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


def faces(T):
    """Build each paper class at ``steps = T + 1`` and its registered method's array on the same steps."""
    steps = np.arange(T + 1, dtype=float)
    print(f'a paper class against its registered method on the same {T + 1:.0e} steps (median of 7):')
    for name, make, method, params in (
            ('WSDSchedule', lambda: WSDSchedule(steps=T + 1, cooldown_len=0.2), 'wsd',
             dict(t_cooldown=int(0.2 * (T + 1)), alpha_f=0.0, decay_type='linear', t_max=T)),
            ('CosineSchedule', lambda: CosineSchedule(steps=T + 1), 'cosine_annealing',
             dict(t_max=T, alpha_f=0.0, alpha_i=1.0))):
        t_face = per_call(make, number=1)
        t_method = per_call(lambda: get_method(method).build(**params)(steps), number=1)
        print(f'  {name:15s} {fmt(t_face):>9s}  {method} build + evaluate {fmt(t_method):>9s}  '
              f'ratio {t_face / t_method:.2f}x')


def main():
    T = 10 ** 6
    faces(T)
    print(f'one horizon, T = {T:.0e} (median of 7):')
    for name, sched in (('wsd 0.2', WSDSchedule(steps=T + 1, cooldown_len=0.2, base_lr=1e-3)),
                        ('cosine', CosineSchedule(steps=T + 1, base_lr=1e-3))):
        lrs = sched.schedule
        t_plain = per_call(lambda: plain_numpy(lrs, 1.0, 1.0, T), number=1)
        t_ours = per_call(lambda: compute_rate(lrs, 1.0, 1.0, T), number=1)
        plain, negative = plain_numpy(lrs, 1.0, 1.0, T)
        ours = compute_rate(lrs, 1.0, 1.0, T)
        print(f'  {name:8s} plain numpy {fmt(t_plain):>9s}  compute_rate {fmt(t_ours):>9s}  '
              f'ratio {t_ours / t_plain:.2f}x  | clipped negative suffix sums in plain: {negative}, '
              f'relative difference {abs(plain / ours - 1):.1e}')

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
