"""timm's LR noise as a method of its own: a multiplier ``1 + n`` that composes with any schedule (a product).

timm (``timm/scheduler/scheduler.py``, ``Scheduler._add_noise``) draws, at each of its steps ``k`` inside a noise
range, one number ``n`` from a generator seeded with ``noise_seed + k`` (torch's CPU ``Generator``): a normal
sample times ``noise_std``, redrawn until ``|n| < noise_pct``, or ``2 (u - 0.5) noise_pct`` for a uniform ``u``;
the LR becomes ``lr (1 + n)``. The noise of a step is a pure function of its index, so it is the same on every rank
and after a resume. The core imports no torch: :func:`timm_noise` reproduces torch's generator (MT19937 seeded as
torch seeds it, its 53-bit doubles, its Box-Muller pair with the cached second sample, its 24-bit floats), and
``tests/schedules/test_lr_noise.py`` checks it against torch and timm themselves.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from composer_sched.schedules._base import (
    Ops,
    ParamError,
    Schedule,
    bound_of,
    check,
    check_bounds,
    check_choice,
    check_number,
    interval,
)
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['NoiseSchedule', 'LRNoiseConfig', 'timm_noise', 'NOISE_TYPES']

NOISE_TYPES = ('normal', 'uniform')
_SEED_MAX = 2 ** 32 - 1
#: A normal noise redraws until |n| < pct: with std up to 100 pct, at least 0.8% of draws are kept.
MAX_STD_PER_PCT = 100.0  # torch seeds its MT19937 with the low 32 bits; numpy's legacy seeding takes them as is


def _raw(seed: int, n: int) -> 'np.ndarray[Any, Any]':
    """The first ``n`` 32-bit outputs of MT19937 seeded as torch's ``Generator.manual_seed(seed)`` seeds it."""
    bits = np.random.MT19937()
    bits._legacy_seeding(seed)  # init_genrand(seed), torch's at::mt19937 init for a seed < 2**32
    return bits.random_raw(n)


@functools.lru_cache(maxsize=4096)
def timm_noise(seed: int, noise_type: str = 'normal', pct: float = 0.67, std: float = 1.0) -> float:
    r"""The noise timm adds at one step: its ``Scheduler._calculate_noise`` with ``noise_seed + t = seed``.

    Normal: torch draws a double :math:`u = (x \bmod 2^{53})\,2^{-53}` from each 64-bit word :math:`x` (two MT19937
    outputs, high first), a Box-Muller pair :math:`r\cos\theta, r\sin\theta` with :math:`r = \sqrt{-2\log(1 - u_2)}`,
    :math:`\theta = 2\pi u_1` (the sine cached for the next draw), each rounded to float32; timm multiplies by
    ``std`` and redraws until :math:`|n| <` ``pct``. Uniform: a float32 :math:`u = (x \bmod 2^{24})\,2^{-24}` from
    one output, :math:`n = 2(u - \tfrac12)` ``pct``.

    Args:
        seed: ``noise_seed + t``, in ``[0, 2**32)``.
        noise_type: ``'normal'`` or ``'uniform'``.
        pct: the limit, ``> 0`` (normal: redraw while :math:`|n| \ge` pct).
        std: the normal's standard deviation, ``> 0``.

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> round(timm_noise(42), 12), round(timm_noise(43, 'uniform'), 12)
        (0.336690366268, -0.061682496071)
    """
    check(isinstance(seed, (int, np.integer)) and 0 <= seed <= _SEED_MAX, 'seed', seed, f'an int in [0, {_SEED_MAX}]')
    check_choice('noise_type', noise_type, NOISE_TYPES)
    check_number('pct', pct, lo=0, lo_open=True)
    check_number('std', std, lo=0, lo_open=True)
    if noise_type == 'uniform':
        u = float(np.float32((int(_raw(int(seed), 1)[0]) & 0xFFFFFF) * 2.0 ** -24))
        return 2 * (u - 0.5) * pct
    words = 64
    while True:  # the redraws are rare (|n| >= pct): draw more words only when they run out
        raw = [int(x) for x in _raw(int(seed), words)]
        for i in range(0, words, 4):
            u1 = (((raw[i] << 32) | raw[i + 1]) & ((1 << 53) - 1)) * 2.0 ** -53
            u2 = (((raw[i + 2] << 32) | raw[i + 3]) & ((1 << 53) - 1)) * 2.0 ** -53
            r, theta = math.sqrt(-2.0 * math.log1p(-u2)), 2.0 * math.pi * u1
            for z in (r * math.cos(theta), r * math.sin(theta)):
                n = float(np.float32(z)) * std
                if abs(n) < pct:
                    return n
        words *= 4


def _check_std(std: float, pct: float, noise_type: str) -> None:
    """The normal noise's width rule, for the shape and its config alike: a normal noise is redrawn until
    :math:`|n| <` pct, which a normal wider than ``MAX_STD_PER_PCT`` pct nearly never is.

    Raises:
        ParamError: ``std`` above ``MAX_STD_PER_PCT * pct`` with ``noise_type='normal'``.
    """
    if noise_type == 'normal' and std > MAX_STD_PER_PCT * pct:
        raise ParamError('std', std, f'<= {MAX_STD_PER_PCT:g} pct ({MAX_STD_PER_PCT * pct:g}) for a normal noise: it '
                         'is redrawn until |n| < pct, which a wider normal nearly never is')


@dataclasses.dataclass(frozen=True)
class NoiseSchedule(Schedule):
    r"""The multiplier :math:`1 + n_k` on noise steps :math:`k = \lfloor t / \Delta \rfloor` with
    :math:`a \le k\Delta < b`, else 1; :math:`n_k` = :func:`timm_noise` ``(seed + k, ...)``.

    Args:
        step: :math:`\Delta`, the length of one noise step (timm: one epoch, or one update), ``> 0``.
        start: :math:`a`, where the noise starts, ``>= 0``.
        end: :math:`b`, where it stops, ``>= start`` (``inf``: never; ``start``: no noise).
        seed: timm's ``noise_seed``, an int ``>= 0``.
        noise_type: ``'normal'`` (default) or ``'uniform'``.
        pct: timm's ``noise_pct``, in ``(0, 1]`` (default 0.67; above 1 timm's LR could turn negative).
        std: timm's ``noise_std``, ``> 0`` and at most ``100 pct`` for a normal noise (default 1; wider, the
            redraws until :math:`|n| <` pct would nearly never end).

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> s = NoiseSchedule(step=1, start=2, end=5)
        >>> [round(s(t), 6) for t in range(6)]
        [1.0, 1.0, 1.058945, 1.031176, 0.868176, 1.0]
    """
    step: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))
    start: float = dataclasses.field(default=0.0, metadata=interval(lo=0))
    end: float = math.inf
    seed: int = dataclasses.field(default=42, metadata=interval(lo=0, hi=_SEED_MAX))
    noise_type: str = 'normal'
    pct: float = dataclasses.field(default=0.67, metadata=interval(lo=0, lo_open=True, hi=1))
    std: float = dataclasses.field(default=1.0, metadata=interval(lo=0, lo_open=True))  # and _check_std's rule

    def __post_init__(self) -> None:
        check_bounds(self)
        check(isinstance(self.end, (int, float)) and self.end >= self.start, 'end', self.end,
              f'>= start ({self.start})')
        check(isinstance(self.seed, int) and not isinstance(self.seed, bool), 'seed', self.seed,
              f'an int in [0, {_SEED_MAX}]')
        check_choice('noise_type', self.noise_type, NOISE_TYPES)
        _check_std(self.std, self.pct, self.noise_type)

    def _one(self, t: float) -> float:
        q = t / self.step
        if not math.isfinite(q):  # k * step is past any finite end (an infinite end is refused by check_horizon)
            return 1.0
        k = math.floor(q)
        if not (self.start <= k * self.step < self.end):
            return 1.0
        seed = self.seed + k
        if seed > _SEED_MAX:  # past 2**32 steps from the seed: torch would seed differently; hold the noise off
            return 1.0
        return 1.0 + timm_noise(seed, self.noise_type, self.pct, self.std)

    def check_horizon(self, t_end: float, names: Any = None) -> None:
        # The last step index drawn on [0, t_end]: noise stops at `end` (exclusive), so steps past it draw nothing.
        # In floats first: a step of 1e-300 on a horizon of 1 is an infinite number of steps, no int.
        q = t_end / self.step
        if math.isfinite(self.end):
            q = min(q, math.ceil(self.end / self.step) - 1 if math.isfinite(self.end / self.step) else math.inf)
        if not q <= _SEED_MAX:  # more noise steps than torch has seeds (or infinitely many): the step is too small
            name = (names or {}).get('step', 'step')
            raise ParamError(name, self.step, f'>= {t_end / _SEED_MAX:.4g} on this horizon ({t_end:g}): at most '
                             f'2**32 noise steps')
        k = math.floor(q)
        if self.seed + k > _SEED_MAX:
            name = (names or {}).get('seed', 'seed')
            raise ParamError(name, self.seed, f'<= {_SEED_MAX - k} on this horizon '
                             f'(seed + step index must stay below 2**32, as torch seeds it)')

    def _eval(self, t: Any, ops: Ops) -> Any:
        if not ops.array:
            return self._one(t)
        flat = np.asarray(t, dtype=float).ravel()
        return np.array([self._one(float(x)) for x in flat]).reshape(np.shape(t))


@register
class LRNoiseConfig(MethodConfig):
    """timm's LR noise: 1 + n per noise step from t_start to t_end (a factor: multiply any schedule by it).

    Example:
        >>> s = LRNoiseConfig(noise_type='uniform', pct=0.1).build(t_step=10, t_start=0, t_end=100)
        >>> round(s(0), 6), s(5) == s(0), s(100)
        (1.076454, True, 1.0)
    """
    NAME = 'lr_noise'
    REFERENCE = 'timm (Wightman), Scheduler._add_noise; deterministic per-step noise'
    ALIASES = {'step': 't_step', 'start': 't_start', 'end': 't_end'}
    RUN_CLOCK = True  # its times are on the run's clock, whatever warm-up another factor has

    t_step: Duration = param('1ba', 'length of one noise step: one draw per step (timm: 1ep per epoch, 1ba per '
                             'update)', kind='duration', example='1ba')
    t_start: Duration = param('0ba', 'where the noise starts (timm: noise_range_t[0])', kind='duration',
                              example='0.5dur')
    t_end: Duration = param('1dur', 'where it stops (timm: noise_range_t[1]; a single timm value: past the run)',
                            kind='duration', example='1dur')
    noise_type: str = param('normal', "timm's noise_type", choices=NOISE_TYPES, example='normal')
    pct: float = param(0.67, "timm's noise_pct: the noise's limit", bound=bound_of(NoiseSchedule, 'pct'), example=0.3)
    std: float = param(1.0, "timm's noise_std: the normal's standard deviation (<= 100 pct)",
                       bound=bound_of(NoiseSchedule, 'std'), example=1.0)
    seed: float = param(42, "timm's noise_seed (its default 42; the train script's --seed)",
                        bound=bound_of(NoiseSchedule, 'seed'), example=42)

    def check(self) -> None:
        if float(self.seed) != int(self.seed):
            raise ParamError('seed', self.seed, 'a whole number')
        _check_std(self.std, self.pct, self.noise_type)

    def build(self, t_step: float, t_start: float, t_end: float) -> Schedule:
        return NoiseSchedule(step=t_step, start=t_start, end=max(t_end, t_start), seed=int(self.seed),
                             noise_type=self.noise_type, pct=self.pct, std=self.std)
