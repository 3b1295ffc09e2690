r"""The paper package's schedule classes (Schaipp et al. 2025), as arrays of per-step learning rates.

Each class builds its array by evaluating a pure-core shape (:mod:`composer_sched.schedules`) on step indices, so
the formulas live in one place. The discrete conventions follow the paper's ``scheduled`` package:

* ``steps`` entries, 0-indexed; the paper evaluates the bound at ``T`` with ``steps = T + 1``, so the last entry
  (0 for a decay to 0) is :math:`\eta_{T+1}` and stays out of the bound.
* Layout ``warm-up (W) + main (M) + cool-down (C)``, ``W + M + C = steps``. When ``W + C == steps``, the cool-down
  (or, without one, the warm-up) gives up one step so that one main step remains.
* Warm-up, :math:`t = 0..W-1`: :math:`w' + (t/W)(1 - w)`, with :math:`w' = w` or :math:`w/\text{base}` when
  ``warmup_lr_absolute`` (the slope keeps the unscaled :math:`w`, as upstream does).
* Cool-down, :math:`j = 1..C`, from the last main value :math:`L` to :math:`f` (``final_lr``, or
  ``final_lr / base_lr`` when ``final_lr_absolute``): linear :math:`L - j(L - f)/C`, or 1-sqrt
  :math:`f + (L - f)(1 - \sqrt{j/C})`. It is the core :class:`~composer_sched.schedules.LinearCoolDown` started
  at the last main index.

``schedule`` is the array times ``base_lr``; ``unscaled_schedule`` has peak 1 (for the polynomial shapes, value
1 at the first step).
"""
from __future__ import annotations

import copy
from typing import Any, Optional, Sequence

import numpy as np

from composer_sched.schedules import (FlatSchedule as CoreConstant, CosineAnnealingSchedule, InverseSqrtSchedule,
                                      LinearCoolDown, LinearWarmUp, StepwiseSchedule as CorePiecewise,
                                      PolynomialSchedule, Schedule, StableDecaySchedule as CoreWSD)
from composer_sched.schedules._base import check, check_choice, check_increasing, check_int, check_number
from composer_sched.theory import bounds as _bounds

__all__ = ['ScheduleBase', 'WSDSchedule', 'ConstantSchedule', 'CosineSchedule', 'SqrtSchedule',
           'PolynomialCooldownSchedule', 'PolynomialBackwardSchedule', 'PiecewiseConstantSchedule']

_WARMUP_DEFAULTS = {'steps': 0, 'warmup_lr': 1e-10, 'warmup_lr_absolute': False}
_COOLDOWN_DEFAULTS = {'steps': 0, 'type': 'linear', 'final_lr': 1e-10, 'final_lr_absolute': False}


def _merged(name: str, given: Optional[dict], defaults: dict) -> dict:
    if given is None:
        return dict(defaults)
    check(isinstance(given, dict), name, given, 'a dict or None')
    unknown = sorted(set(given) - set(defaults))
    check(not unknown, name, given, f'a dict with keys among {sorted(defaults)} (unknown: {unknown})')
    return {**defaults, **given}


def _steps_of(frac: float, steps: int, name: str) -> int:
    check_number(name, frac, lo=0, hi=1)
    return int(frac * steps)  # truncation, as upstream: T0 = (T+1) - int(0.2 (T+1))


class ScheduleBase:
    r"""Base class: a learning-rate array of length ``steps`` = warm-up + main part + cool-down.

    Subclasses implement :meth:`_main` (a core shape and the index of the first main step on its clock) and
    :attr:`name`. The bound methods call :mod:`composer_sched.theory.bounds` on :attr:`schedule`.

    Args:
        steps: length of the array, integer ``>= 1``; use ``T + 1`` to evaluate the bound at ``T``.
        base_lr: the peak learning rate, ``>= 0``.
        warmup_kwargs: ``None`` (no warm-up) or a dict with ``steps`` (int ``>= 0``), ``warmup_lr`` (in
            ``[0, 1]``, default 1e-10) and ``warmup_lr_absolute`` (default False).
        cooldown_kwargs: ``None`` or a dict with ``steps`` (int ``>= 0``), ``type`` (``'linear'`` or
            ``'sqrt'``), ``final_lr`` (``>= 0``, default 1e-10) and ``final_lr_absolute`` (default False).

    Raises:
        ValueError: an argument outside its range, no main step left, or a final LR above the last main value.
    """

    name = 'base'

    def __init__(self, steps: int, base_lr: float = 1.0, warmup_kwargs: Optional[dict] = None,
                 cooldown_kwargs: Optional[dict] = None):
        self.steps = check_int('steps', steps, lo=1)
        self.base_lr = check_number('base_lr', base_lr, lo=0)
        self.warmup_kwargs = _merged('warmup_kwargs', warmup_kwargs, _WARMUP_DEFAULTS)
        self.cooldown_kwargs = _merged('cooldown_kwargs', cooldown_kwargs, _COOLDOWN_DEFAULTS)
        w, c = self.warmup_kwargs, self.cooldown_kwargs
        W = check_int('warmup_kwargs["steps"]', w['steps'], lo=0)
        C = check_int('cooldown_kwargs["steps"]', c['steps'], lo=0)
        check_number('warmup_kwargs["warmup_lr"]', w['warmup_lr'], lo=0, hi=1)
        check_number('cooldown_kwargs["final_lr"]', c['final_lr'], lo=0)
        check_choice('cooldown_kwargs["type"]', c['type'], ('linear', 'sqrt'))
        if W + C == self.steps and self.steps > 0:  # keep one main step (upstream convention)
            C, W = (C - 1, W) if C > 0 else (C, W - 1)
        check(W + C < self.steps, 'steps', steps, f'> warm-up + cool-down steps ({W} + {C})')
        self._W, self._C = W, C
        # A relative target depends on base_lr: rebuild on set_base_lr.
        self._recompute_each_time = bool(w['warmup_lr_absolute'] and W) or bool(c['final_lr_absolute'] and C)
        self._build()

    # -- construction ---------------------------------------------------------------------------------------------
    def _main(self, length: int) -> tuple[Schedule, int]:
        """The core shape of the main part and the core time of its first step (main step i is at t0 + i)."""
        raise NotImplementedError

    def _relative(self, value: float, absolute: bool, name: str) -> float:
        if not absolute:
            return value
        check(self.base_lr > 0, 'base_lr', self.base_lr, f'> 0 when {name} is absolute')
        return value / self.base_lr

    def _build(self) -> None:
        W, C = self._W, self._C
        M = self.steps - W - C
        core, t0 = self._main(M)
        if C:
            c = self.cooldown_kwargs
            final = self._relative(float(c['final_lr']), bool(c['final_lr_absolute']), 'final_lr')
            last = core(float(t0 + M - 1))
            check(final <= last + 1e-12, 'final_lr', c['final_lr'],
                  f'at most the last value before the cool-down ({last:g} of base_lr)')
            core = LinearCoolDown(core, finish_lr=final, start_idx=float(t0 + M - 1), length=float(C), shape=c['type'])
        parts = [core(t0 + np.arange(M + C, dtype=float))]
        if W:
            w = self.warmup_kwargs
            start = self._relative(float(w['warmup_lr']), bool(w['warmup_lr_absolute']), 'warmup_lr')
            peak = start + (1.0 - float(w['warmup_lr']))  # upstream slope: (1 - w) even when w is absolute
            parts.insert(0, LinearWarmUp(CoreConstant(peak), start_lr=start, length=float(W))(np.arange(W, dtype=float)))
        sched = np.concatenate(parts)
        check(len(sched) == self.steps and bool(np.all(sched >= -1e-15)), 'schedule', self.name,
              f'{self.steps} values >= 0')
        self._schedule = np.maximum(sched, 0.0)

    # -- the array ------------------------------------------------------------------------------------------------
    @property
    def schedule(self) -> np.ndarray:
        """The learning rates, ``base_lr`` times :attr:`unscaled_schedule` (a new array)."""
        return self.base_lr * self._schedule

    @property
    def unscaled_schedule(self) -> np.ndarray:
        """The shape at base LR 1 (read-only view)."""
        view = self._schedule.view()
        view.flags.writeable = False
        return view

    def __len__(self) -> int:
        return self.steps

    def __repr__(self) -> str:
        return f'{type(self).__name__}(steps={self.steps}, base_lr={self.base_lr:g})'

    @property
    def _warmup_steps(self) -> int:
        return self._W

    @property
    def _cooldown_steps(self) -> int:
        return self._C

    @property
    def cooldown_start(self) -> int:
        """:math:`T_0` = ``steps - C``: 1-indexed, the last step at the main value before the cool-down."""
        return self.steps - self._C

    def get_base_lr(self) -> float:
        return self.base_lr

    def set_base_lr(self, lr: float) -> 'ScheduleBase':
        """Set the base (peak) learning rate, ``>= 0``; returns ``self``.

        Raises:
            ValueError: ``lr`` negative or not finite (or 0 with an absolute final/warm-up LR).
        """
        self.base_lr = check_number('lr', lr, lo=0)
        if self._recompute_each_time:
            self._build()
        return self

    def copy(self) -> 'ScheduleBase':
        return copy.deepcopy(self)

    # -- bound ----------------------------------------------------------------------------------------------------
    def compute_rate(self, grad_norms: Any = 1.0, D: float = 1.0, T: Optional[int] = None, type: str = 'refined',
                     return_split: bool = False):
        r"""Theorem 1's bound :math:`\Omega_T` for :attr:`schedule` (see :func:`~composer_sched.theory.compute_rate`).

        Args:
            grad_norms: :math:`G_t`, a number or an array of at least ``T`` numbers, ``>= 0``.
            D: ``>= 0``.
            T: horizon in ``[1, steps]``; ``None``: the whole schedule (``inf`` if it ends at 0).
            type: ``'refined'`` or ``'standard'``.
            return_split: return ``(term1, term2, term3)``.

        Example:
            >>> s = WSDSchedule(steps=101, cooldown_len=0.2, base_lr=0.049544)
            >>> round(s.compute_rate(grad_norms=1, D=1, T=100), 6)
            0.223028
        """
        return _bounds.compute_rate(self.schedule, grad_norms, D, T, type=type, return_split=return_split)

    def bound_curve(self, grad_norms: Any = 1.0, D: float = 1.0, T: Optional[int] = None, type: str = 'refined',
                    return_split: bool = False) -> Any:
        r""":math:`\Omega_1, \dots, \Omega_T` in one call (see :func:`~composer_sched.theory.bound_curve`)."""
        return _bounds.bound_curve(self.schedule, grad_norms, D, T, type=type, return_split=return_split)

    def plot(self, ax=None, **kwargs):
        """Plot the learning rate against :math:`t = 1..steps` with matplotlib; returns the axes."""
        import matplotlib.pyplot as plt
        ax = ax or plt.gca()
        ax.plot(np.arange(1, self.steps + 1), self.schedule, **{'label': self.name, **kwargs})
        ax.set_xlabel('iteration t')
        ax.set_ylabel('learning rate')
        return ax


class WSDSchedule(ScheduleBase):
    r"""Warmup-stable-decay: constant 1, then a linear or 1-sqrt cool-down over the last ``int(cooldown_len*steps)``.

    ``cooldown_len=1.0`` is linear decay (one main step kept at 1); with ``decay_type='sqrt'``, the 1-sqrt schedule.
    Built on the core :class:`~composer_sched.schedules.StableDecaySchedule` (main step i at core time i).

    Args:
        final_lr: :math:`f`, ``>= 0`` and ``<= base_lr`` (default 0).
        steps: integer ``>= 1`` (default 100).
        base_lr: ``>= 0`` (default 1).
        cooldown_len: fraction of ``steps`` in the cool-down, in ``[0, 1]`` (default 0.2).
        decay_type: ``'linear'`` (default) or ``'sqrt'``.
        final_lr_absolute: ``final_lr`` is an LR rather than a fraction of ``base_lr``.
        warmup_kwargs: see :class:`ScheduleBase`.

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> WSDSchedule(steps=11, cooldown_len=0.2).schedule.round(3).tolist()
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0]
    """

    name = 'wsd'

    def __init__(self, final_lr: float = 0.0, steps: int = 100, base_lr: float = 1.0, cooldown_len: float = 0.2,
                 decay_type: str = 'linear', final_lr_absolute: bool = False, warmup_kwargs: Optional[dict] = None):
        steps = check_int('steps', steps, lo=1)
        check_number('final_lr', final_lr, lo=0)
        check_number('base_lr', base_lr, lo=0)
        check(final_lr_absolute or final_lr <= 1, 'final_lr', final_lr, '<= 1 (a fraction of base_lr)')
        check(not final_lr_absolute or final_lr <= base_lr, 'final_lr', final_lr, f'<= base_lr ({base_lr})')
        check_choice('decay_type', decay_type, ('linear', 'sqrt'))
        self.cooldown_len = check_number('cooldown_len', cooldown_len, lo=0, hi=1)
        self.decay_type = decay_type
        cool = {'steps': _steps_of(cooldown_len, steps, 'cooldown_len'), 'type': decay_type, 'final_lr': final_lr,
                'final_lr_absolute': final_lr_absolute}
        super().__init__(steps, base_lr, warmup_kwargs, cool)

    def _build(self) -> None:
        W, C = self._W, self._C
        M = self.steps - W - C
        if C == 0 or W:
            return super()._build()
        # Without warm-up the whole array is the core WSD: stable until core time M-1, cool-down over C steps.
        c = self.cooldown_kwargs
        final = self._relative(float(c['final_lr']), bool(c['final_lr_absolute']), 'final_lr')
        core = CoreWSD(length=float(M - 1 + C), cooldown_length=float(C), final_lr=final, decay_type=c['type'])
        self._schedule = core(np.arange(self.steps, dtype=float))

    def _main(self, length):
        return CoreConstant(1.0), 0


class ConstantSchedule(WSDSchedule):
    """All ones (times ``base_lr``): a :class:`WSDSchedule` without cool-down.

    Args:
        steps: integer ``>= 1`` (default 100).
        base_lr: ``>= 0`` (default 1).
        warmup_kwargs: see :class:`ScheduleBase`.

    Example:
        >>> ConstantSchedule(steps=3, base_lr=0.5).schedule.tolist()
        [0.5, 0.5, 0.5]
    """

    name = 'constant'

    def __init__(self, steps: int = 100, base_lr: float = 1.0, warmup_kwargs: Optional[dict] = None):
        super().__init__(final_lr=0.0, steps=steps, base_lr=base_lr, cooldown_len=0.0,
                         warmup_kwargs=warmup_kwargs)


class CosineSchedule(ScheduleBase):
    r"""Cosine from 1 to :math:`f` over the :math:`M` main steps, endpoints included: :math:`i = 0..M-1`,

    .. math:: f + \tfrac12 (1 - f)\,(1 + \cos(\pi\, i / (M - 1)))

    (the core :class:`~composer_sched.schedules.CosineAnnealingSchedule` with cycle length :math:`M - 1`; a single
    main step is 1).

    Args:
        final_lr: :math:`f`, ``>= 0``, ``<= 1`` (or ``<= base_lr`` when absolute) (default 0).
        steps: integer ``>= 1`` (default 100).
        base_lr: ``>= 0`` (default 1).
        final_lr_absolute: ``final_lr`` is an LR rather than a fraction of ``base_lr``.
        warmup_kwargs: see :class:`ScheduleBase`.

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> CosineSchedule(steps=5).schedule.round(4).tolist()
        [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    name = 'cosine'

    def __init__(self, final_lr: float = 0.0, steps: int = 100, base_lr: float = 1.0, final_lr_absolute: bool = False,
                 warmup_kwargs: Optional[dict] = None):
        check_number('final_lr', final_lr, lo=0)
        check(final_lr_absolute or final_lr <= 1, 'final_lr', final_lr, '<= 1 (a fraction of base_lr)')
        self.final_lr, self.final_lr_absolute = float(final_lr), bool(final_lr_absolute)
        super().__init__(steps, base_lr, warmup_kwargs, None)
        # An absolute final LR also depends on base_lr; keep the base class's flag (an absolute warm-up LR).
        self._recompute_each_time = self._recompute_each_time or self.final_lr_absolute

    def _main(self, length):
        f = self._relative(self.final_lr, self.final_lr_absolute, 'final_lr')
        check(f <= 1, 'final_lr', self.final_lr, f'<= base_lr ({self.base_lr:g})')
        if length == 1:
            return CoreConstant(1.0), 0
        return CosineAnnealingSchedule(min_lr=f, max_lr=1.0, cycle_length=float(length - 1)), 0


class PolynomialCooldownSchedule(ScheduleBase):
    r"""Main part :math:`t^{-\alpha}`, :math:`t = 1..P`, then a cool-down from :math:`P^{-\alpha}` to :math:`f`.

    The main part is the core :class:`~composer_sched.schedules.InverseSqrtSchedule` with ``scale=1`` and
    ``power=alpha``: :math:`(1 + s)^{-\alpha}` at core time :math:`s = t - 1`.

    Args:
        alpha: :math:`\alpha`, ``>= 0`` (default 1).
        final_lr: :math:`f`, ``>= 0``, at most the last main value (default 0).
        steps: integer ``>= 1`` (default 100).
        base_lr: ``>= 0`` (default 1).
        cooldown_len: fraction of ``steps`` in the cool-down, in ``[0, 1]`` (default 0).
        decay_type: ``'linear'`` or ``'sqrt'``.
        final_lr_absolute: ``final_lr`` is an LR rather than a fraction of ``base_lr``.
        warmup_kwargs: see :class:`ScheduleBase`.

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> PolynomialCooldownSchedule(alpha=1, steps=4).schedule.round(4).tolist()
        [1.0, 0.5, 0.3333, 0.25]
    """

    name = 'polynomial-cooldown'

    def __init__(self, alpha: float = 1.0, final_lr: float = 0.0, steps: int = 100, base_lr: float = 1.0,
                 cooldown_len: float = 0.0, decay_type: str = 'linear', final_lr_absolute: bool = False,
                 warmup_kwargs: Optional[dict] = None):
        self.alpha = check_number('alpha', alpha, lo=0)
        steps = check_int('steps', steps, lo=1)
        cool = {'steps': _steps_of(cooldown_len, steps, 'cooldown_len'), 'type': decay_type, 'final_lr': final_lr,
                'final_lr_absolute': final_lr_absolute}
        self.cooldown_len = float(cooldown_len)
        super().__init__(steps, base_lr, warmup_kwargs, cool)

    def _main(self, length):
        return InverseSqrtSchedule(scale=1.0, power=self.alpha), 0


class SqrtSchedule(PolynomialCooldownSchedule):
    r""":math:`1/\sqrt{t}`, :math:`t = 1..P`, with an optional cool-down to ``final_lr`` (``alpha = 1/2``).

    Args:
        final_lr, steps, base_lr, cooldown_len, decay_type, final_lr_absolute, warmup_kwargs: as in
            :class:`PolynomialCooldownSchedule`.

    Example:
        >>> SqrtSchedule(steps=4).schedule.round(4).tolist()
        [1.0, 0.7071, 0.5774, 0.5]
    """

    name = 'sqrt'

    def __init__(self, final_lr: float = 0.0, steps: int = 100, base_lr: float = 1.0, cooldown_len: float = 0.0,
                 decay_type: str = 'linear', final_lr_absolute: bool = False, warmup_kwargs: Optional[dict] = None):
        super().__init__(0.5, final_lr, steps, base_lr, cooldown_len, decay_type, final_lr_absolute, warmup_kwargs)


class PolynomialBackwardSchedule(ScheduleBase):
    r""":math:`f + (1 - f)\,((M - 1 - i)/(M - 1))^{\alpha}` over the :math:`M` main steps (:math:`i = 0..M-1`).

    The core :class:`~composer_sched.schedules.PolynomialSchedule` with length :math:`M - 1`. Upstream always uses
    :math:`M` = ``steps`` (so a warm-up fails its length check); here the warm-up is prepended.

    Args:
        steps: integer ``>= 1`` (default 100).
        base_lr: ``>= 0`` (default 1).
        alpha: :math:`\alpha`, ``> 0`` (default 1).
        final_lr: :math:`f`, in ``[0, 1]`` (default 0).
        warmup_kwargs: see :class:`ScheduleBase`.

    Example:
        >>> PolynomialBackwardSchedule(steps=5, alpha=2).schedule.tolist()
        [1.0, 0.5625, 0.25, 0.0625, 0.0]
    """

    name = 'polynomial-backward'

    def __init__(self, steps: int = 100, base_lr: float = 1.0, alpha: float = 1.0, final_lr: float = 0.0,
                 warmup_kwargs: Optional[dict] = None):
        self.alpha = check_number('alpha', alpha, lo=0, lo_open=True)
        self.final_lr = check_number('final_lr', final_lr, lo=0, hi=1)
        super().__init__(steps, base_lr, warmup_kwargs, None)

    def _main(self, length):
        if length == 1:
            return CoreConstant(1.0), 0
        return PolynomialSchedule(power=self.alpha, length=float(length - 1), final_lr=self.final_lr), 0


class PiecewiseConstantSchedule(ScheduleBase):
    r"""At 0-indexed step :math:`t`, :math:`\prod_{i: m_i \le t} f_i`, with warm-up and cool-down cut in.

    The core :class:`~composer_sched.schedules.StepwiseSchedule` on the full clock; the main part is steps
    ``W .. steps - C - 1`` of it, and the cool-down starts from its value at step ``steps - C - 1``. With a drop at
    ``int(0.8 T0)`` and a 20 % cool-down this is the paper's two-stage "WSSD" extension.

    Args:
        steps: integer ``>= 1``.
        base_lr: ``>= 0`` (default 1).
        milestones: non-decreasing step indices ``>= 0``.
        factors: one factor ``>= 0`` per milestone.
        cooldown_kwargs, warmup_kwargs: see :class:`ScheduleBase`.

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> PiecewiseConstantSchedule(steps=6, milestones=[2, 4], factors=[0.5, 0.5]).schedule.tolist()
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    name = 'piecewise-constant'

    def __init__(self, steps: int, base_lr: float = 1.0, milestones: Sequence[float] = (), factors: Sequence[float] = (),
                 cooldown_kwargs: Optional[dict] = None, warmup_kwargs: Optional[dict] = None):
        self.milestones = check_increasing('milestones', list(milestones), strict=False)
        self.factors = tuple(check_number(f'factors[{i}]', f, lo=0) for i, f in enumerate(factors))
        check(len(self.factors) == len(self.milestones), 'factors', list(factors),
              f'a list of {len(self.milestones)} numbers, one per milestone')
        super().__init__(steps, base_lr, warmup_kwargs, cooldown_kwargs)

    def _main(self, length):
        return CorePiecewise(milestones=self.milestones, factors=self.factors), self._W
