r"""The paper package's schedule classes (Schaipp et al. 2025): thin faces over the registered methods.

Each class is a face over ONE definition, a method of :mod:`composer_sched.schedules.registry`: its main part
(and, for WSD and the 1/sqrt family, its cool-down) is the schedule ``get_method(method).build(**params)`` evaluated
at the step indices, :attr:`ScheduleBase.method` names the method and :meth:`ScheduleBase.method_params` gives the
parameters, so no formula is written here. What the face adds is the paper's discrete bookkeeping, as in its
``scheduled`` package:

* **Step counting.** ``steps`` entries, 0-indexed; the paper evaluates the bound at ``T`` with ``steps = T + 1``,
  so the last entry (0 for a decay to 0) is :math:`\eta_{T+1}` and stays out of the bound. The method's clock
  starts at the first main step (after the warm-up): main step :math:`i` is the method's value at :math:`t = i`.
  Durations are step counts (``t_max``, ``t_cooldown``), never fractions of a run.
* **Layout** ``warm-up (W) + main (M) + cool-down (C)``, ``W + M + C = steps``, with ``C = int(cooldown_len *
  steps)`` (truncated, as upstream). When ``W + C == steps``, the cool-down (or, without one, the warm-up) gives up
  one step so that one main step remains.
* **Endpoints included.** A decay over the main part reaches its final value *at* the last main step, so the
  method's length is ``M - 1`` steps (the cool-down's ``C`` steps end on the final value too).
* **Relative targets.** ``final_lr`` (and ``warmup_lr``) are fractions of ``base_lr``; with ``final_lr_absolute``
  (``warmup_lr_absolute``) they are LRs, divided by ``base_lr`` before the method is built, and the array is rebuilt
  by :meth:`~ScheduleBase.set_base_lr`.
* **Warm-up** (``warmup_kwargs``), :math:`t = 0..W-1`: :math:`w' + (t/W)(1 - w)`, the core
  :class:`~composer_sched.schedules.LinearWarmUp` with :math:`w' = w` or :math:`w/\text{base}` when absolute (the
  slope keeps the unscaled :math:`w`, as upstream does).
* **Generic cool-down** (``cooldown_kwargs`` of :class:`PiecewiseConstantSchedule`, or a subclass's): the core
  :class:`~composer_sched.schedules.LinearCoolDown` from the last main value :math:`L` to :math:`f`, linear
  :math:`L - j(L - f)/C` or 1-sqrt :math:`f + (L - f)(1 - \sqrt{j/C})`, :math:`j = 1..C` (the cool-down the ``wsd``
  and ``inverse_sqrt`` methods build in).

``schedule`` is the array times ``base_lr``; ``unscaled_schedule`` has peak 1 (for the polynomial shapes, value
1 at the first step).
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar, Mapping, Optional, Sequence

import numpy as np

from composer_sched.schedules._base import (
    ParamError,
    Schedule,
    check,
    check_choice,
    check_increasing,
    check_int,
    check_number,
)

# The core shape, renamed here: ConstantSchedule in this module is the paper's class.
from composer_sched.schedules.constant import ConstantSchedule as _Constant
from composer_sched.schedules.cooldown import LinearCoolDown
from composer_sched.schedules.inverse_sqrt import InverseSqrtSchedule
from composer_sched.schedules.registry import get_method
from composer_sched.schedules.warmup import LinearWarmUp
from composer_sched.theory import bounds as _bounds

__all__ = ['ScheduleBase', 'WSDSchedule', 'ConstantSchedule', 'CosineSchedule', 'SqrtSchedule',
           'PolynomialCooldownSchedule', 'PolynomialBackwardSchedule', 'PiecewiseConstantSchedule']

_WARMUP_DEFAULTS = {'steps': 0, 'warmup_lr': 1e-10, 'warmup_lr_absolute': False}
_COOLDOWN_DEFAULTS = {'steps': 0, 'type': 'linear', 'final_lr': 1e-10, 'final_lr_absolute': False}
_COOLDOWN_TYPES = ('linear', 'sqrt')
#: The cool-down's parameters in the methods' vocabulary -> the paper classes' arguments (for error messages).
_COOLDOWN_ARGUMENTS = {'t_cooldown': 'cooldown_len', 'alpha_f': 'final_lr', 't_max': 'steps'}


def _merged(name: str, given: Optional[dict], defaults: dict) -> dict:
    if given is None:
        return dict(defaults)
    check(isinstance(given, dict), name, given, 'a dict or None')
    unknown = sorted(set(given) - set(defaults))
    check(not unknown, name, given, f'a dict with keys among {sorted(defaults)} (unknown: {unknown})')
    return {**defaults, **given}


def _cooldown(steps: int, cooldown_len: float, decay_type: str, final_lr: float, final_lr_absolute: bool) -> dict:
    """``cooldown_kwargs`` of a class that takes the cool-down as a fraction: ``int(cooldown_len * steps)`` steps
    (truncated, as upstream: :math:`T_0 = (T+1) - \\lfloor 0.2 (T+1) \\rfloor`)."""
    check_number('cooldown_len', cooldown_len, lo=0, hi=1)
    check_choice('decay_type', decay_type, _COOLDOWN_TYPES)
    check_number('final_lr', final_lr, lo=0)
    return {'steps': int(cooldown_len * steps), 'type': decay_type, 'final_lr': final_lr,
            'final_lr_absolute': bool(final_lr_absolute)}


class ScheduleBase:
    r"""Base class: a learning-rate array of length ``steps`` = warm-up + main part + cool-down.

    A subclass names its registered :attr:`method` and implements :meth:`method_params`; the array is that
    method's schedule at core times ``main_start + i`` for main step ``i`` (see the module docstring for the
    conventions). :attr:`METHOD_COOLS_DOWN` says whether the method's parameters carry the cool-down (``wsd``,
    ``inverse_sqrt``); otherwise ``cooldown_kwargs`` add the core cool-down. A shape no method defines can still
    be a subclass: override :meth:`_main` to return a core :class:`~composer_sched.schedules.Schedule`.

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
    #: The registered method (:func:`composer_sched.schedules.registry.get_method`) whose schedule is the array.
    method: ClassVar[Optional[str]] = None
    #: Whether :meth:`method_params` carry the cool-down (``t_cooldown``, ``alpha_f``, ``decay_type``).
    METHOD_COOLS_DOWN: ClassVar[bool] = False
    #: The method's parameter -> this class's argument: an error the method raises names the argument given here.
    ARGUMENTS: ClassVar[Mapping[str, str]] = {}

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
        check_choice('cooldown_kwargs["type"]', c['type'], _COOLDOWN_TYPES)
        if W + C == self.steps:  # keep one main step (upstream convention)
            C, W = (C - 1, W) if C > 0 else (C, W - 1)
        check(W + C < self.steps, 'steps', steps, f'> warm-up + cool-down steps ({W} + {C})')
        self._W, self._C = W, C
        self._build()

    # -- the one definition ---------------------------------------------------------------------------------------
    @property
    def main_steps(self) -> int:
        """:math:`M`, the steps between the warm-up and the cool-down (``>= 1``)."""
        return self.steps - self._W - self._C

    @property
    def main_start(self) -> int:
        """The core time of the first main step (0: the method's clock starts after the warm-up)."""
        return 0

    def method_params(self) -> dict[str, Any]:
        """The keyword parameters of :attr:`method` (durations in steps) whose schedule this array evaluates.

        Raises:
            ValueError: a relative target that does not fit (e.g. an absolute ``final_lr`` above ``base_lr``).
        """
        raise NotImplementedError(f'{type(self).__name__} names no registered method: override _main()')

    def core(self) -> Schedule:
        """The registered method's schedule, ``get_method(method).build(**method_params())``: main step ``i`` is its
        value at ``main_start + i``.

        Raises:
            ValueError: a method parameter out of range, named by this class's argument (:attr:`ARGUMENTS`).

        Example:
            >>> s = CosineSchedule(steps=5)
            >>> s.method, s.method_params(), s.core()(2.0)
            ('cosine_annealing', {'t_max': 4, 'alpha_f': 0.0, 'alpha_i': 1.0}, 0.5)
        """
        if self.method is None:
            raise NotImplementedError(f'{type(self).__name__} names no registered method: override _main()')
        try:
            return get_method(self.method).build(**self.method_params())
        except ParamError as e:  # the method speaks alpha_f/t_cooldown: name this class's argument
            raise e.renamed(self.ARGUMENTS) from None

    def _main(self) -> Schedule:
        """The core schedule of the main part (and cool-down, if :attr:`METHOD_COOLS_DOWN`) on its own clock."""
        return self.core()

    @property
    def _recompute_each_time(self) -> bool:
        """The unscaled array depends on ``base_lr`` (an absolute target): rebuild it in :meth:`set_base_lr`."""
        w, c = self.warmup_kwargs, self.cooldown_kwargs
        return bool(w['warmup_lr_absolute'] and self._W) or bool(c['final_lr_absolute'] and self._C)

    def _relative(self, value: float, absolute: bool, name: str) -> float:
        if not absolute:
            return float(value)
        check(self.base_lr > 0, 'base_lr', self.base_lr, f'> 0 when {name} is absolute')
        return float(value) / self.base_lr

    def _final(self) -> float:
        """The cool-down's target :math:`f` as a fraction of ``base_lr``."""
        c = self.cooldown_kwargs
        return self._relative(c['final_lr'], bool(c['final_lr_absolute']), 'final_lr')

    def _cooldown_params(self) -> dict[str, Any]:
        """The cool-down in the vocabulary of the methods that build it in (``wsd``, ``inverse_sqrt``): ``C`` steps
        ending on the target *at* the last step, so ``t_max = M - 1 + C`` (1 when that is 0: one main step)."""
        C = self._C
        return {'t_cooldown': C, 'alpha_f': self._final() if C else 0.0, 'decay_type': self.cooldown_kwargs['type'],
                't_max': max(self.main_steps - 1 + C, 1)}

    def _build(self) -> None:
        W, C, M, t0 = self._W, self._C, self.main_steps, self.main_start
        core = self._main()
        if C:
            c, final = self.cooldown_kwargs, self._final()
            last = float(core(float(t0 + M - 1)))
            check(final <= last + 1e-12, 'final_lr', c['final_lr'],
                  f'at most the last value before the cool-down ({last:g} of base_lr)')
            if not self.METHOD_COOLS_DOWN:
                core = LinearCoolDown(core, finish_lr=final, start_idx=float(t0 + M - 1), length=float(C),
                                      shape=c['type'])
        parts = [np.asarray(core(np.arange(t0, t0 + M + C, dtype=float)), dtype=float)]
        if W:
            w = self.warmup_kwargs
            start = self._relative(w['warmup_lr'], bool(w['warmup_lr_absolute']), 'warmup_lr')
            peak = start + (1.0 - float(w['warmup_lr']))  # upstream slope: (1 - w) even when w is absolute
            warmup = LinearWarmUp(_Constant(peak), start_lr=start, length=float(W))
            parts.insert(0, warmup(np.arange(W, dtype=float)))
        sched = np.concatenate(parts) if W else parts[0]  # a fresh array either way: clipped in place
        check(len(sched) == self.steps and bool(sched.min() >= -1e-15), 'schedule', self.name,
              f'{self.steps} values >= 0')
        self._schedule = np.maximum(sched, 0.0, out=sched)

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

    A face over the registered ``wsd`` method: after the warm-up, step :math:`i` is
    ``get_method('wsd').build(t_cooldown=C, alpha_f=f, decay_type=decay_type, t_max=M - 1 + C)`` at :math:`t = i`
    (:math:`M` main steps, :math:`C` cool-down steps). Conversions: ``cooldown_len`` (a fraction of ``steps``) to
    ``C = int(cooldown_len * steps)`` steps; the cool-down ends on ``f`` *at* the last step, so the method's
    ``t_max`` is :math:`M - 1 + C` (endpoints included; ``1`` when that is 0, a single constant step); ``final_lr``
    to ``alpha_f`` (divided by ``base_lr`` when ``final_lr_absolute``).

    Args:
        final_lr: :math:`f`, ``>= 0``; ``<= 1`` (a fraction of ``base_lr``), or ``<= base_lr`` when absolute
            (default 0).
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
        >>> WSDSchedule(steps=11, cooldown_len=0.2).method_params()
        {'t_cooldown': 2, 'alpha_f': 0.0, 'decay_type': 'linear', 't_max': 10}
    """

    name = 'wsd'
    method = 'wsd'
    METHOD_COOLS_DOWN = True
    ARGUMENTS = _COOLDOWN_ARGUMENTS

    def __init__(self, final_lr: float = 0.0, steps: int = 100, base_lr: float = 1.0, cooldown_len: float = 0.2,
                 decay_type: str = 'linear', final_lr_absolute: bool = False, warmup_kwargs: Optional[dict] = None):
        steps = check_int('steps', steps, lo=1)
        check_number('base_lr', base_lr, lo=0)
        cool = _cooldown(steps, cooldown_len, decay_type, final_lr, final_lr_absolute)
        check(final_lr_absolute or final_lr <= 1, 'final_lr', final_lr, '<= 1 (a fraction of base_lr)')
        check(not final_lr_absolute or final_lr <= base_lr, 'final_lr', final_lr, f'<= base_lr ({base_lr})')
        self.cooldown_len, self.decay_type = float(cooldown_len), decay_type
        super().__init__(steps, base_lr, warmup_kwargs, cool)

    def method_params(self) -> dict[str, Any]:
        return self._cooldown_params()


class ConstantSchedule(WSDSchedule):
    """All ones (times ``base_lr``): a :class:`WSDSchedule` without cool-down.

    A face over the registered ``constant`` method: after the warm-up, every step is
    ``get_method('constant').build(alpha=1.0)``.

    Args:
        steps: integer ``>= 1`` (default 100).
        base_lr: ``>= 0`` (default 1).
        warmup_kwargs: see :class:`ScheduleBase`.

    Example:
        >>> ConstantSchedule(steps=3, base_lr=0.5).schedule.tolist()
        [0.5, 0.5, 0.5]
    """

    name = 'constant'
    method = 'constant'
    METHOD_COOLS_DOWN = False
    ARGUMENTS = {}

    def __init__(self, steps: int = 100, base_lr: float = 1.0, warmup_kwargs: Optional[dict] = None):
        super().__init__(final_lr=0.0, steps=steps, base_lr=base_lr, cooldown_len=0.0, warmup_kwargs=warmup_kwargs)

    def method_params(self) -> dict[str, Any]:
        return {'alpha': 1.0}


class CosineSchedule(ScheduleBase):
    r"""Cosine from 1 to :math:`f` over the :math:`M` main steps, endpoints included: :math:`i = 0..M-1`,

    .. math:: f + \tfrac12 (1 - f)\,(1 + \cos(\pi\, i / (M - 1)))

    (a single main step is 1). A face over the registered ``cosine_annealing`` method: step :math:`i` after the
    warm-up is ``get_method('cosine_annealing').build(t_max=M - 1, alpha_f=f, alpha_i=1.0)`` at :math:`t = i`.
    Conversions: the method reaches ``alpha_f`` *at* ``t_max``, so ``t_max`` is :math:`M - 1` (endpoints included;
    ``1`` for a single main step, whose value at 0 is 1 whatever the length); ``final_lr`` to ``alpha_f`` (divided
    by ``base_lr`` when ``final_lr_absolute``).

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
    method = 'cosine_annealing'
    ARGUMENTS = {'alpha_f': 'final_lr', 't_max': 'steps'}

    def __init__(self, final_lr: float = 0.0, steps: int = 100, base_lr: float = 1.0, final_lr_absolute: bool = False,
                 warmup_kwargs: Optional[dict] = None):
        check_number('final_lr', final_lr, lo=0)
        check(final_lr_absolute or final_lr <= 1, 'final_lr', final_lr, '<= 1 (a fraction of base_lr)')
        self.final_lr, self.final_lr_absolute = float(final_lr), bool(final_lr_absolute)
        super().__init__(steps, base_lr, warmup_kwargs, None)

    @property
    def _recompute_each_time(self) -> bool:
        return super()._recompute_each_time or self.final_lr_absolute

    def method_params(self) -> dict[str, Any]:
        f = self._relative(self.final_lr, self.final_lr_absolute, 'final_lr')
        check(f <= 1, 'final_lr', self.final_lr, f'<= base_lr ({self.base_lr:g})')
        return {'t_max': max(self.main_steps - 1, 1), 'alpha_f': f, 'alpha_i': 1.0}


def _with_power(core: Schedule, power: float) -> Schedule:
    """The ``inverse_sqrt`` method's schedule with :math:`(1 + s)^{-p}` for its :math:`(1 + s)^{-1/2}`."""
    if isinstance(core, InverseSqrtSchedule):
        return dataclasses.replace(core, power=power)
    if isinstance(core, LinearCoolDown):
        return dataclasses.replace(core, schedule=_with_power(core.schedule, power))
    raise ParamError('method', 'inverse_sqrt', 'a method building an InverseSqrtSchedule, with a cool-down or not')


class PolynomialCooldownSchedule(ScheduleBase):
    r"""Main part :math:`t^{-\alpha}`, :math:`t = 1..P`, then a cool-down from :math:`P^{-\alpha}` to :math:`f`.

    A face over the registered ``inverse_sqrt`` method, :math:`(1 + s/\tau)^{-1/2}` with its cool-down: step
    :math:`i` after the warm-up is ``get_method('inverse_sqrt').build(t_scale=1.0, t_cooldown=C, alpha_f=f,
    decay_type=decay_type, t_max=M - 1 + C)`` at :math:`s = i` (so :math:`t = s + 1`), with the exponent
    :math:`1/2` of its core :class:`~composer_sched.schedules.InverseSqrtSchedule` set to ``alpha``.
    Conversions: as for :class:`WSDSchedule` (``cooldown_len`` to ``C`` steps, the cool-down ends on :math:`f` at
    the last step, ``final_lr`` to ``alpha_f``).

    Args:
        alpha: :math:`\alpha`, ``>= 0`` (default 1).
        final_lr: :math:`f`, ``>= 0``, at most the last main value :math:`P^{-\alpha}` (default 0).
        cooldown_len: as in :class:`WSDSchedule`, but default 0 (no cool-down).
        steps, base_lr, decay_type, final_lr_absolute, warmup_kwargs: as in :class:`WSDSchedule`.

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> PolynomialCooldownSchedule(alpha=1, steps=4).schedule.round(4).tolist()
        [1.0, 0.5, 0.3333, 0.25]
    """

    name = 'polynomial-cooldown'
    method = 'inverse_sqrt'
    METHOD_COOLS_DOWN = True
    ARGUMENTS = _COOLDOWN_ARGUMENTS

    def __init__(self, alpha: float = 1.0, final_lr: float = 0.0, steps: int = 100, base_lr: float = 1.0,
                 cooldown_len: float = 0.0, decay_type: str = 'linear', final_lr_absolute: bool = False,
                 warmup_kwargs: Optional[dict] = None):
        self.alpha = check_number('alpha', alpha, lo=0)
        steps = check_int('steps', steps, lo=1)
        cool = _cooldown(steps, cooldown_len, decay_type, final_lr, final_lr_absolute)
        self.cooldown_len, self.decay_type = float(cooldown_len), decay_type
        super().__init__(steps, base_lr, warmup_kwargs, cool)

    def method_params(self) -> dict[str, Any]:
        return {'t_scale': 1.0, **self._cooldown_params()}

    def _main(self) -> Schedule:
        core = self.core()
        return core if self.alpha == 0.5 else _with_power(core, self.alpha)


class SqrtSchedule(PolynomialCooldownSchedule):
    r""":math:`1/\sqrt{t}`, :math:`t = 1..P`, with an optional cool-down to ``final_lr`` (``alpha = 1/2``).

    The registered ``inverse_sqrt`` method as it is (``t_scale=1``); see :class:`PolynomialCooldownSchedule`.

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

    A face over the registered ``polynomial`` method: step :math:`i` after the warm-up is
    ``get_method('polynomial').build(power=alpha, t_max=M - 1, alpha_f=final_lr)`` at :math:`t = i` (endpoints
    included: ``t_max`` is :math:`M - 1`, or 1 for a single main step). Upstream always uses :math:`M` = ``steps``
    (so a warm-up fails its length check); here the warm-up is prepended.

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
    method = 'polynomial'
    ARGUMENTS = {'power': 'alpha', 'alpha_f': 'final_lr', 't_max': 'steps'}

    def __init__(self, steps: int = 100, base_lr: float = 1.0, alpha: float = 1.0, final_lr: float = 0.0,
                 warmup_kwargs: Optional[dict] = None):
        self.alpha = check_number('alpha', alpha, lo=0, lo_open=True)
        self.final_lr = check_number('final_lr', final_lr, lo=0, hi=1)
        super().__init__(steps, base_lr, warmup_kwargs, None)

    def method_params(self) -> dict[str, Any]:
        return {'power': self.alpha, 't_max': max(self.main_steps - 1, 1), 'alpha_f': self.final_lr}


class PiecewiseConstantSchedule(ScheduleBase):
    r"""At 0-indexed step :math:`t`, :math:`\prod_{i: m_i \le t} f_i`, with warm-up and cool-down cut in.

    A face over the registered ``piecewise_constant`` method on the full clock:
    ``get_method('piecewise_constant').build(milestones=milestones, factors=factors)`` at :math:`t`, for the main
    steps ``W .. steps - C - 1`` (the milestones count from the first step, warm-up included: ``main_start`` is
    :math:`W`); the cool-down starts from its value at step ``steps - C - 1``. With a drop at ``int(0.8 T0)`` and a
    20 % cool-down this is the paper's two-stage "WSSD" extension.

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
    method = 'piecewise_constant'

    def __init__(self, steps: int, base_lr: float = 1.0, milestones: Sequence[float] = (),
                 factors: Sequence[float] = (), cooldown_kwargs: Optional[dict] = None,
                 warmup_kwargs: Optional[dict] = None):
        self.milestones = check_increasing('milestones', list(milestones), strict=False)
        self.factors = tuple(check_number(f'factors[{i}]', f, lo=0) for i, f in enumerate(factors))
        check(len(self.factors) == len(self.milestones), 'factors', list(factors),
              f'a list of {len(self.milestones)} numbers, one per milestone')
        super().__init__(steps, base_lr, warmup_kwargs, cooldown_kwargs)

    @property
    def main_start(self) -> int:
        return self._W

    def method_params(self) -> dict[str, Any]:
        return {'milestones': list(self.milestones), 'factors': list(self.factors)}
