r"""Theorem 1 of Schaipp et al. (2025): the last-iterate bound of SGD with a learning-rate schedule, on any array.

For a convex, :math:`G`-Lipschitz problem with :math:`\|x_1 - x_\star\| \le D`, SGD with step sizes
:math:`\eta_1, \dots, \eta_T` and gradient norms :math:`G_t` satisfies
:math:`\mathbb{E}[f(x_T) - f_\star] \le \Omega_T` with

.. math::
    \Omega_T = \underbrace{\frac{D^2}{2\sum_{t=1}^T \eta_t}}_{\text{term 1}}
      + \underbrace{\frac{\sum_{t=1}^T \eta_t^2 G_t^2}{2\sum_{t=1}^T \eta_t}}_{\text{term 2}}
      + \underbrace{\frac12 \sum_{k=1}^{T-1} \frac{\eta_k}{\sum_{t=k+1}^T \eta_t}\,
        \frac{\sum_{t=k}^T \eta_t^2 G_t^2}{\sum_{t=k}^T \eta_t}}_{\text{term 3}}

(the refined bound; the *standard* averaged-iterate bound is terms 1 + 2). Terms 2 and 3 telescope into a sum of
positive terms only (partial fractions, then summation by parts), with :math:`P_t = \sum_{s \le t} \eta_s`:

.. math::
    \Omega_t = \frac{D^2}{2 P_t} + \frac12 \Big( \sum_{k=1}^{t-1} \frac{\eta_k^2 G_k^2}{P_t - P_k}
      + \eta_t G_t^2 \Big),

which is how :func:`bound_curve` gets every :math:`\Omega_t`, :math:`t = 1..T`, in one pass: the sum over
:math:`k` is a Cauchy sum, split into an exact near field and a far field through an exponential-sum
approximation of :math:`1/x` (relative error below ``1e-12``), so the whole curve costs :math:`O(T)` (times the
~200 exponentials) instead of one :math:`O(T)` call per :math:`t`.

Numerics: every quantity is a sum of non-negative terms. Suffix sums are accumulated directly (never as
``total - prefix``), and the prefix sums of the curve carry their rounding errors (an error-free transformation),
so no partial sum goes negative and nothing needs clipping, from :math:`T = 1` to :math:`10^7`.

A zero step size :math:`\eta_t = 0` makes :math:`\Omega_t = +\infty` (term 3 divides by it): evaluate a schedule
that decays to 0 at :math:`T` with ``steps = T + 1`` entries, as the paper does.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Union

import numpy as np

from composer_sched.schedules._base import ParamError, check, check_choice, check_int, check_number

__all__ = ['compute_rate', 'compute_optimal_base', 'bound_curve', 'optimal_bound_curve', 'BOUND_TYPES']

BOUND_TYPES = ('refined', 'standard')
ArrayLike = Union[float, np.ndarray, Any]


# ---------------------------------------------------------------------------------------------------------------
# Argument checks: the shared helpers of the core (ParamError, a ValueError naming the argument, the value and what
# is allowed); an array is shown by its shape or its offending entry, not printed whole.

class _Shown:
    """Stands for an array in an error message (``lrs=<array of shape (2, 2)>``)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _lrs(lrs, name: str = 'lrs') -> np.ndarray:
    try:
        arr = np.asarray(lrs, dtype=float)
    except (TypeError, ValueError):
        raise ParamError(name, lrs, 'a 1-D array of numbers') from None
    check(arr.ndim == 1 and arr.size > 0, name, _Shown(f'<array of shape {arr.shape}>'), 'a non-empty 1-D array')
    if not (arr.min() >= 0 and np.isfinite(arr.max())):  # NaN fails both comparisons
        bad = arr[~np.isfinite(arr) | (arr < 0)][0]
        raise ParamError(name, _Shown(f'<array containing {float(bad)!r}>'), 'finite and >= 0')
    return arr


def _horizon(T, n: int) -> int:
    if T is None:
        return n
    t = check_int('T', T, lo=1)
    check(t <= n, 'T', T, f'in [1, {n}] (the length of the schedule)')
    return t


def _grad_sq(grad_norms, T: int) -> Union[float, np.ndarray]:
    """:math:`G_t^2` for t = 1..T: a scalar stays a scalar, an array needs at least T entries."""
    if isinstance(grad_norms, numbers.Real) and not isinstance(grad_norms, bool):
        return check_number('grad_norms', grad_norms, lo=0) ** 2
    arr = np.asarray(grad_norms, dtype=float) if not isinstance(grad_norms, bool) else np.asarray([])
    if arr.ndim == 0:
        return check_number('grad_norms', float(arr), lo=0) ** 2
    ok = arr.ndim == 1 and arr.size >= T and bool(np.all(np.isfinite(arr[:T]))) and not np.any(arr[:T] < 0)
    check(ok, 'grad_norms', _Shown(f'<array of shape {arr.shape}>'),
          f'a number >= 0 or a 1-D array of at least T={T} finite numbers >= 0')
    return arr[:T] ** 2


def _common(lrs, grad_norms, D, T, type):
    eta = _lrs(lrs)
    T = _horizon(T, eta.size)
    D = check_number('D', D, lo=0)
    check_choice('type', type, BOUND_TYPES)
    eta = eta[:T]
    return eta, eta * eta * _grad_sq(grad_norms, T), D, T


def _suffix(x: np.ndarray) -> np.ndarray:
    """Suffix sums accumulated from the end, so they never come out of a cancellation."""
    return np.cumsum(x[::-1])[::-1]


# ---------------------------------------------------------------------------------------------------------------
# One horizon.

def compute_rate(lrs, grad_norms: ArrayLike, D: float, T: int | None = None, type: str = 'refined',
                 return_split: bool = False):
    r"""The bound :math:`\Omega_T` of Theorem 1 for the learning rates ``lrs`` (see the module docstring).

    .. math::
        \Omega_T = \frac{D^2}{2\sum_{t\le T}\eta_t} + \frac{\sum_{t\le T}\eta_t^2G_t^2}{2\sum_{t\le T}\eta_t}
        + \frac12\sum_{k=1}^{T-1}\frac{\eta_k}{\sum_{t=k+1}^T\eta_t}\frac{\sum_{t=k}^T\eta_t^2G_t^2}{\sum_{t=k}^T\eta_t}

    Args:
        lrs: :math:`\eta_1, \dots, \eta_N`, learning rates (base LR included), finite and ``>= 0``.
        grad_norms: :math:`G_t`: a number ``>= 0``, or an array of at least ``T`` numbers ``>= 0``.
        D: :math:`D`, distance of the start from a minimiser, ``>= 0``.
        T: horizon in ``[1, len(lrs)]``; ``None`` (default): the whole array.
        type: ``'refined'`` (Theorem 1, default) or ``'standard'`` (terms 1 + 2, the averaged-iterate bound).
        return_split: return ``(term1, term2, term3)`` instead of their sum (term 3 is 0 for ``'standard'``).

    Returns:
        :math:`\Omega_T` as a float (``inf`` when :math:`\eta_T = 0` for the refined bound, or all
        :math:`\eta_t = 0`), or the three terms.

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> round(compute_rate([0.1] * 4, grad_norms=1.0, D=1.0), 6)  # 1/0.8 + 0.05 + 0.05 * H_3
        1.391667
    """
    eta, g, D, T = _common(lrs, grad_norms, D, T, type)
    total = float(np.sum(eta))  # pairwise summation: error ~ eps log T
    with np.errstate(divide='ignore', invalid='ignore'):
        t1 = D * D / (2 * total) if total > 0 else math.inf
        t2 = float(np.sum(g)) / (2 * total) if total > 0 else math.inf
    t3 = 0.0
    if type == 'refined' and T > 1:
        if eta[-1] == 0:
            t3 = math.inf
        else:  # every suffix sum is >= eta_T > 0
            suf, suf_g = _suffix(eta), _suffix(g)
            terms = eta[:-1] / suf[1:]
            terms *= suf_g[:-1]
            terms /= suf[:-1]
            t3 = 0.5 * float(np.sum(terms))
    elif type == 'refined' and eta[-1] == 0:
        t1 = t2 = math.inf
    return (t1, t2, t3) if return_split else t1 + t2 + t3


def compute_optimal_base(schedule, G: ArrayLike = 1.0, D: float = 1.0, T: int | None = None,
                         type: str = 'refined') -> tuple[float, float]:
    r"""The base LR :math:`\gamma^\star` minimising the bound at horizon ``T``, and the bound there.

    With the learning rates :math:`\gamma\,s_t` (:math:`s` the schedule's shape at base LR 1), term 1 scales as
    :math:`1/\gamma` and terms 2 and 3 as :math:`\gamma`, so with :math:`t_i` evaluated at :math:`\gamma = 1`:

    .. math:: \gamma^\star = \sqrt{t_1 / (t_2 + t_3)}, \qquad \Omega^\star = 2\sqrt{t_1 (t_2 + t_3)}

    (for ``'standard'``, :math:`t_3 = 0`: :math:`\gamma^\star = D / \sqrt{\sum_t s_t^2 G_t^2}`).

    Args:
        schedule: a :mod:`composer_sched.theory` schedule (its shape at base LR 1 is used; it is not changed), or
            an array of LR multipliers :math:`s_t \ge 0`.
        G: gradient norms :math:`G_t` (number or array), ``>= 0``.
        D: ``>= 0``.
        T: horizon in ``[1, len]``; ``None``: the whole schedule.
        type: ``'refined'`` or ``'standard'``.

    Returns:
        ``(base_lr, bound)``: :math:`(\gamma^\star, \Omega^\star)`; ``(0.0, inf)`` when the bound is infinite.

    Raises:
        ValueError: an argument outside its range, or ``G`` is 0 at every step up to ``T`` (then
            :math:`t_2 + t_3 = 0` and no finite base LR is optimal).

    Example:
        >>> from composer_sched.theory import WSDSchedule
        >>> [round(v, 6) for v in compute_optimal_base(WSDSchedule(steps=101, cooldown_len=0.2), G=1, D=1, T=100)]
        [0.049544, 0.223028]
    """
    shape = _shape_at_base_one(schedule)
    t1, t2, t3 = compute_rate(shape, G, D, T, type=type, return_split=True)
    if t2 + t3 == 0 and math.isfinite(t1):  # the bound falls to 0 as the LR grows: no finite optimum to return
        raise ParamError('G', G if np.ndim(G) == 0 else _Shown(f'<{np.size(G)} zeros>'), '> 0 at some step',
                         ': with every gradient norm 0 over the horizon the bound has no optimal base LR (it falls '
                         'towards 0 as the LR grows)')
    return _optimum(t1, t2 + t3)


def _shape_at_base_one(schedule):
    """The learning rates of ``schedule`` at base LR 1 (a copy: an absolute warm-up or final LR is then relative to
    1, as in the reference's ``compute_optimal_base``), or the array itself."""
    if getattr(schedule, '_recompute_each_time', False):  # the shape depends on the base LR
        return schedule.copy().set_base_lr(1.0).schedule
    return schedule.unscaled_schedule if hasattr(schedule, 'unscaled_schedule') else schedule


def _optimum(t1, t23):
    if np.ndim(t1):
        with np.errstate(divide='ignore', invalid='ignore'):
            base = np.where(np.isfinite(t23) & (t23 > 0), np.sqrt(t1 / t23), np.where(t23 == 0, np.inf, 0.0))
            bound = np.where(np.isfinite(t23), 2 * np.sqrt(t1 * t23), np.inf)
        return base, bound
    if not math.isfinite(t23) or not math.isfinite(t1):
        return 0.0, math.inf
    if t23 == 0:  # no gradient noise: any base LR is too small
        return math.inf, 0.0
    return math.sqrt(t1 / t23), 2 * math.sqrt(t1 * t23)


# ---------------------------------------------------------------------------------------------------------------
# The whole curve.

def _prefix_with_error(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prefix sums ``P`` and the running sum ``E`` of their rounding errors: ``P + E`` is exact to ~eps^2.

    ``np.cumsum`` adds sequentially, so ``P[i] = fl(P[i-1] + x[i])``; TwoSum recovers each rounding error exactly.
    Differences ``(P[t] - P[k]) + (E[t] - E[k])`` are then accurate to ~eps even when ``x`` is tiny next to ``P``.
    """
    p = np.cumsum(x)
    prev = np.concatenate(([0.0], p[:-1]))
    bb = p - prev
    err = (prev - (p - bb)) + (x - bb)
    return p, np.cumsum(err)


def _exp_sum_nodes(x_min: float, x_max: float, step: float = 0.3, tol: float = 1e-15):
    r"""Rates :math:`a_j` and weights :math:`w_j` with :math:`\sum_j w_j e^{-a_j x} = 1/x` to ~1e-13 relative.

    Trapezoidal rule on :math:`1/x = \int_{\mathbb R} \exp(u - x e^u)\,du`, truncated where the tails drop below
    ``tol`` for :math:`x \in [x_{min}, x_{max}]`.
    """
    lo = math.log(tol / x_max)
    hi = math.log(math.log(1 / tol) / x_min)
    u = np.arange(lo, hi + step, step)
    return np.exp(u), step * np.exp(u)


def _cauchy_sums(eta: np.ndarray, weights: np.ndarray, block: int) -> np.ndarray:
    r"""For every t: :math:`\sum_{k<t} w_k / (P_t - P_k)` (0-indexed, :math:`P` the prefix sums of ``eta``).

    ``weights`` has shape ``(T, m)``. Pairs in the same block of ``block`` indices are summed exactly; older ones
    through the exponential sum, carried from block to block as :math:`F_j = \sum_k w_k e^{-a_j (P_c - P_k)}`.
    Where a distance is 0 (then :math:`\eta_t = 0`) the term is left out; the caller makes that :math:`\Omega_t`
    infinite.
    """
    n, m = weights.shape
    p, e = _prefix_with_error(eta)
    out = np.zeros((n, m))
    starts = np.arange(0, n, block)
    nodes = None
    if len(starts) > 1:
        # Far-field distances: from each t to the last index before its block.
        anchor = np.repeat(starts - 1, np.diff(np.append(starts, n)))[block:]
        far = (p[block:] - p[anchor]) + (e[block:] - e[anchor])
        positive = far[far > 0]
        total = (p[-1] + e[-1])
        if positive.size and total > 0:
            nodes = _exp_sum_nodes(float(positive.min()), float(total))
    state = None
    for c in starts:
        end = min(c + block, n)
        pc, ec, wc = p[c:end], e[c:end], weights[c:end]
        dist = (pc[:, None] - pc[None, :]) + (ec[:, None] - ec[None, :])
        with np.errstate(divide='ignore'):
            inv = np.where(np.tri(end - c, k=-1, dtype=bool) & (dist > 0), 1.0 / dist, 0.0)
        out[c:end] = inv @ wc
        if nodes is None:
            continue
        rates, wts = nodes
        if state is not None:
            x = (pc - p[c - 1]) + (ec - e[c - 1])
            out[c:end] += np.exp(-np.outer(x, rates)) @ (wts[:, None] * state)
        # Carry everything up to index end - 1 to the next block.
        to_end = (p[end - 1] - pc) + (e[end - 1] - ec)
        fresh = np.exp(-np.outer(rates, to_end)) @ wc
        if state is None:
            state = fresh
        else:
            shift = (p[end - 1] - p[c - 1]) + (e[end - 1] - e[c - 1])
            state = np.exp(-rates * shift)[:, None] * state + fresh
    return out


def bound_curve(lrs, grad_norms: ArrayLike, D: float, T: int | None = None, type: str = 'refined',
                return_split: bool = False, block: int = 512):
    r"""Every :math:`\Omega_t`, :math:`t = 1..T`, of Theorem 1 in one call (see :func:`compute_rate`).

    Uses the positive form (module docstring), with :math:`P_t = \sum_{s\le t}\eta_s`, :math:`g_t =
    \eta_t^2 G_t^2`:

    .. math::
        t_1 = \frac{D^2}{2P_t},\quad t_2 = \frac{\sum_{s\le t} g_s}{2P_t},\quad
        t_3 = \frac{1}{2P_t}\Big(\sum_{k<t}\frac{g_k P_k}{P_t - P_k} + \frac{g_t P_{t-1}}{\eta_t}\Big)

    Cost :math:`O(T \cdot (\text{block} + 400))` instead of :math:`O(T^2)`; agrees with :func:`compute_rate` at
    every ``t`` to ~1e-12 relative.

    Args:
        lrs: learning rates, finite and ``>= 0``.
        grad_norms: a number or an array of at least ``T`` numbers, ``>= 0``.
        D: ``>= 0``.
        T: last horizon, in ``[1, len(lrs)]``; ``None``: the whole array.
        type: ``'refined'`` or ``'standard'``.
        return_split: return the arrays ``(term1, term2, term3)``.
        block: size of the exactly-summed near field, integer ``>= 1`` (a tuning knob; any value is exact to
            ~1e-12).

    Returns:
        A float array of length ``T`` (entry ``t-1`` is :math:`\Omega_t`; ``inf`` where :math:`\eta_t = 0`), or
        three such arrays.

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> curve = bound_curve([0.1] * 4, 1.0, 1.0)
        >>> bool(abs(curve[-1] - compute_rate([0.1] * 4, 1.0, 1.0)) < 1e-12)
        True
    """
    eta, g, D, T = _common(lrs, grad_norms, D, T, type)
    block = check_int('block', block, lo=1)
    g = np.broadcast_to(g, eta.shape).astype(float)
    p = np.cumsum(eta)
    with np.errstate(divide='ignore', invalid='ignore'):
        t1 = np.where(p > 0, D * D / (2 * p), np.inf)
        t2 = np.where(p > 0, np.cumsum(g) / (2 * p), np.inf)
        if type == 'standard':
            t3 = np.zeros(T)
        else:
            p_before = np.concatenate(([0.0], p[:-1]))
            far = _cauchy_sums(eta, (g * p)[:, None], block)[:, 0]  # weights g_k P_k
            t3 = (far + g * p_before / eta) / (2 * p)
            zero = eta == 0
            t3[zero] = np.inf
            t3[0] = 0.0 if eta[0] > 0 else np.inf
    if return_split:
        return t1, t2, t3
    return t1 + t2 + t3


def optimal_bound_curve(schedule, G: ArrayLike = 1.0, D: float = 1.0, T: int | None = None,
                        type: str = 'refined', block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    r"""For every horizon :math:`t = 1..T`: the optimal base LR :math:`\gamma^\star_t` and bound :math:`\Omega^\star_t`.

    :math:`\gamma^\star_t = \sqrt{t_1/(t_2+t_3)}` and :math:`\Omega^\star_t = 2\sqrt{t_1(t_2+t_3)}`, the terms of
    :func:`bound_curve` at base LR 1: how the tuned base LR and the best reachable bound move with the horizon,
    for one *fixed* array (see :mod:`composer_sched.theory.transfer` for re-shaped schedules).

    Args:
        schedule: a theory schedule (its shape at base LR 1) or an array of multipliers ``>= 0``.
        G, D, T, type, block: as in :func:`bound_curve`.

    Returns:
        ``(base_lrs, bounds)``, two arrays of length ``T``.

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> base, bound = optimal_bound_curve([1.0] * 3, 1.0, 1.0)
        >>> [round(float(b), 6) for b in bound]  # 2 sqrt(1/(2t) * (1 + H_{t-1})/2)
        [1.0, 1.0, 0.912871]
    """
    shape = _shape_at_base_one(schedule)
    t1, t2, t3 = bound_curve(shape, G, D, T, type=type, return_split=True, block=block)
    return _optimum(t1, t2 + t3)
