r"""Horizon transfer: extend a schedule tuned at ``T0`` to a longer ``T1`` without tuning the base LR again.

Theorem 1 gives, for each candidate shape at ``T1``, its optimal base LR :math:`\gamma^\star(p)`
(:func:`~composer_sched.theory.compute_optimal_base`). Keeping the base LR :math:`\gamma_0` tuned at ``T0`` is
safe when the new shape is chosen so that :math:`\gamma^\star(p) = \gamma_0`: a longer cool-down for WSD or
1/sqrt, or a drop by a factor :math:`\rho` at ``int(0.8 T0)`` for the two-stage "WSSD". As in the paper's
``horizon_transfer`` script, the parameter is picked on a grid, minimising :math:`|\gamma^\star(p) -
\gamma_0| / \gamma_0`.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from composer_sched.schedules._base import check, check_int, check_number
from composer_sched.theory.bounds import compute_optimal_base, compute_rate
from composer_sched.theory.schedules import PiecewiseConstantSchedule, SqrtSchedule, WSDSchedule

__all__ = ['TransferResult', 'horizon_transfer', 'TRANSFER_FAMILIES']


def _wsd(c, T1, T0):
    return WSDSchedule(steps=T1 + 1, cooldown_len=float(c))


def _sqrt(c, T1, T0):
    return SqrtSchedule(steps=T1 + 1, cooldown_len=float(c))


def _wssd(rho, T1, T0):
    return PiecewiseConstantSchedule(steps=T1 + 1, milestones=[int(0.8 * T0)], factors=[float(rho)],
                                     cooldown_kwargs={'steps': int(0.2 * (T1 + 1)), 'type': 'linear'})


#: name -> (shape at T1 from (param, T1, T0), the tuned shape at T0, the paper's default grid, what param is).
TRANSFER_FAMILIES: dict[str, tuple[Callable, Callable, np.ndarray, str]] = {
    'wsd': (_wsd, lambda T0: WSDSchedule(steps=T0 + 1, cooldown_len=0.2), np.linspace(0.1, 1, 33),
            'cool-down fraction'),
    'sqrt': (_sqrt, lambda T0: SqrtSchedule(steps=T0 + 1, cooldown_len=0.2), np.linspace(0.1, 0.7, 33),
             'cool-down fraction'),
    'wssd': (_wssd, lambda T0: WSDSchedule(steps=T0 + 1, cooldown_len=0.2), np.linspace(0.2, 1, 33),
             'drop factor at int(0.8 T0)'),
}


@dataclasses.dataclass(frozen=True)
class TransferResult:
    """One transfer: the picked parameter and how well its optimal base LR matches the tuned one.

    Attributes:
        T0, T1: the tuned and the new horizon.
        param: the picked grid value (cool-down fraction or drop factor).
        tuned_base_lr: :math:`\\gamma_0`, kept for the extension.
        optimal_base_lr: :math:`\\gamma^\\star` of the picked shape at ``T1``.
        rel_diff: :math:`|\\gamma^\\star - \\gamma_0| / \\gamma_0`.
        bound: :math:`\\Omega_{T1}` of the picked shape run at :math:`\\gamma_0`.
        schedule: the picked shape (a theory schedule or an array) at base LR :math:`\\gamma_0`.
    """
    T0: int
    T1: int
    param: float
    tuned_base_lr: float
    optimal_base_lr: float
    rel_diff: float
    bound: float
    schedule: Any


def horizon_transfer(family: Union[str, Callable[[float, int, int], Any]], T0: int, T1: Union[int, Sequence[int]], *,
                     tuned_base_lr: Optional[float] = None, grid: Optional[Sequence[float]] = None,
                     G: Any = 1.0, D: float = 1.0, type: str = 'refined', tol: float = 0.01):
    r"""Pick the shape at ``T1`` whose optimal base LR equals the one tuned at ``T0`` (grid search).

    For each grid value :math:`p`, :math:`\gamma^\star(p) = \sqrt{t_1/(t_2 + t_3)}` of the shape at ``T1``
    (Theorem 1 at base LR 1, ``steps = T1 + 1``); the pick minimises :math:`|\gamma^\star(p) - \gamma_0|/\gamma_0`.

    Args:
        family: ``'wsd'`` (cool-down fraction, grid ``linspace(0.1, 1, 33)``), ``'sqrt'`` (1/sqrt with a
            cool-down fraction, ``linspace(0.1, 0.7, 33)``), ``'wssd'`` (WSD 0.2 with a drop factor at
            ``int(0.8 T0)``, ``linspace(0.2, 1, 33)``), or ``fn(param, T1, T0)`` returning a theory schedule or an
            LR-multiplier array of ``T1 + 1`` entries (then ``tuned_base_lr`` and ``grid`` are required).
        T0: tuned horizon, integer ``>= 1``.
        T1: new horizon(s), integers ``>= 1``.
        tuned_base_lr: :math:`\gamma_0 > 0`; default: the optimal base LR at ``T0`` of WSD 0.2 (``'wsd'``,
            ``'wssd'``) or 1/sqrt with a 0.2 cool-down (``'sqrt'``).
        grid: candidate parameters (non-empty); default: the paper's grid of the family.
        G, D, type: as in :func:`~composer_sched.theory.compute_optimal_base`.
        tol: warn when the best relative difference exceeds this, ``>= 0`` (default 1 %).

    Returns:
        A :class:`TransferResult`, or a list of them when ``T1`` is a sequence.

    Raises:
        ValueError: an unknown family, a horizon or base LR outside its range, or an empty grid.

    Example:
        >>> r = horizon_transfer('wsd', 4000, 8000)
        >>> round(r.param, 4), round(r.tuned_base_lr, 6)
        (0.6344, 0.008118)
    """
    T0 = check_int('T0', T0, lo=1)
    if isinstance(T1, (list, tuple, np.ndarray)):
        return [horizon_transfer(family, T0, t, tuned_base_lr=tuned_base_lr, grid=grid, G=G, D=D, type=type,
                                 tol=tol) for t in T1]
    T1 = check_int('T1', T1, lo=1)
    check_number('tol', tol, lo=0)
    if callable(family):
        make = family
        check(tuned_base_lr is not None, 'tuned_base_lr', tuned_base_lr, 'given when family is a function')
        check(grid is not None, 'grid', grid, 'given when family is a function')
    else:
        check(isinstance(family, str) and family in TRANSFER_FAMILIES, 'family', family,
              f'one of {", ".join(map(repr, TRANSFER_FAMILIES))} or a function (param, T1, T0) -> schedule')
        make, tuned, default_grid, _ = TRANSFER_FAMILIES[family]
        grid = list(default_grid) if grid is None else grid
        if tuned_base_lr is None:
            tuned_base_lr = compute_optimal_base(tuned(T0), G, D, T0, type=type)[0]
    gamma0 = check_number('tuned_base_lr', tuned_base_lr, lo=0, lo_open=True)
    values = np.asarray(grid, dtype=float).ravel()
    check(values.size > 0 and bool(np.all(np.isfinite(values))), 'grid', grid, 'a non-empty list of numbers')
    shapes = [make(p, T1, T0) for p in values]
    optimal = np.array([compute_optimal_base(s, G, D, T1, type=type)[0] for s in shapes])
    rel = np.abs(optimal - gamma0) / gamma0
    i = int(np.argmin(rel))
    if rel[i] > tol:
        warnings.warn(f'horizon_transfer: no grid value within {tol:.0%} of the tuned base LR at T1={T1} '
                      f'(best {values[i]:g}: {rel[i]:.1%} off)', stacklevel=2)
    picked = shapes[i]
    if hasattr(picked, 'set_base_lr'):
        picked = picked.copy().set_base_lr(gamma0)
        lrs = picked.schedule
    else:
        picked = gamma0 * np.asarray(picked, dtype=float)
        lrs = picked
    return TransferResult(T0=T0, T1=T1, param=float(values[i]), tuned_base_lr=gamma0,
                          optimal_base_lr=float(optimal[i]), rel_diff=float(rel[i]),
                          bound=compute_rate(lrs, G, D, T1, type=type), schedule=picked)
