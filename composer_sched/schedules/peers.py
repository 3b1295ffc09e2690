"""Our peers' schedule names and arguments, mapped onto registered methods: ONE table, :data:`PEERS`.

Users of the Hugging Face ``Trainer`` name a schedule ``lr_scheduler_type`` (transformers' ``SchedulerType``) with
``num_warmup_steps``, ``num_training_steps`` and ``lr_scheduler_kwargs``; timm's users name it ``sched`` of
``create_scheduler_v2`` (the factory, with its defaults) or by the scheduler class (with the classes' defaults,
which differ). Each entry of the table is one such name, its arguments (as the peer spells and defaults them), the
registered method it becomes and the rule that turns the arguments into the method's parameters: a *translation*
with durations in the peer's own steps (:class:`Steps`; batches, or epochs for timm's per-epoch stepping). The
adapters place it on a run (:class:`composer_sched.adapters.spec.ScheduleSpec` takes ``'hf/cosine'`` like
``'wsd'``); ``docs/peers.md`` states each peer's semantics and every deliberate difference.

Rules that hold for every entry:

* lengths the peer takes as a number of steps (``num_training_steps``, timm's ``num_epochs`` / ``t_initial``) may be
  left out: then the run's own length is used (``max_duration``, or a ``ScheduleLR``'s ``total_steps``), so the
  schedule scales with a sweep's ratio like ours; given, they are absolute and scale as our absolute durations do;
* arguments that are absolute learning rates (``lr_end``, ``min_lr``, ``lr_min``, ``warmup_lr_init``) are divided by
  the optimizer's base LR (``base_lr``), as transformers does with ``optimizer.defaults['lr']``;
* what no registered method can draw is refused by name, with the reason, at construction (loss-driven schedules
  point to AutoWU).

Example:
    >>> t = translate_peer('hf/cosine_with_min_lr', dict(num_warmup_steps=10, num_training_steps=100, min_lr_rate=0.1))
    >>> t.method, t.params['t_warmup'], t.params['t_max'], t.params['alpha_f'], t.unit
    ('cosine_annealing', Steps(10.0), Steps(100.0), 0.1, 'ba')
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from typing import Any, Callable, Mapping, Optional

from composer_sched.schedules._base import ParamError
from composer_sched.schedules.registry import REQUIRED

__all__ = ['Steps', 'PeerArg', 'Peer', 'Translation', 'PEERS', 'find_peer', 'translate_peer', 'peer_suggestion',
           'both_suggestions']

#: The peers' vocabularies: prefix -> (library, how its users name a schedule).
VOCABULARIES = {'hf': ('transformers', "TrainingArguments.lr_scheduler_type (SchedulerType)"),
                'timm': ('timm', "create_scheduler_v2(sched=...) or the scheduler class")}

LOSS_DRIVEN = ('loss-driven: it lowers the LR when a metric stops improving, not as a function of the step, so it '
               'has no curve to map; for an LR that adapts to training use the AutoWU algorithm '
               '(composer_sched.algorithms.autowu, recipe algorithms: {autowu: ...})')


class Steps(float):
    """A duration in the peer's own steps (the translation's ``unit``: batches, or epochs); the adapters turn it into
    a Composer duration (``'100ba'``, ``'3ep'``, or a fraction of the run when it is not whole)."""

    def __repr__(self) -> str:
        return f'Steps({float(self)!r})'


@dataclasses.dataclass(frozen=True)
class PeerArg:
    """One argument of a peer's schedule, as the peer spells and defaults it.

    Args:
        name: the peer's keyword.
        default: the peer's default, or :data:`~composer_sched.schedules.registry.REQUIRED`.
        doc: one line.
        absolute: an absolute learning rate (divided by the base LR).
    """
    name: str
    default: Any = REQUIRED
    doc: str = ''
    absolute: bool = False


@dataclasses.dataclass(frozen=True)
class Translation:
    """A peer's schedule as a registered method: ``method``, its parameters (durations as :class:`Steps`) and the
    unit of those steps (``'ba'`` or ``'ep'``)."""
    method: str
    params: dict[str, Any]
    unit: str = 'ba'


Rule = Callable[[dict[str, Any], float], Translation]


@dataclasses.dataclass(frozen=True)
class Peer:
    """One peer name: where it comes from, its arguments, and the registered method it becomes.

    Args:
        vocabulary: ``'hf'`` or ``'timm'`` (see :data:`VOCABULARIES`).
        name: the peer's name (``'cosine_with_min_lr'``, ``'cosine'``, ``'CosineLRScheduler'``).
        source: the peer's function or class that defines it.
        maps_to: the registered method it becomes (``''`` when refused).
        how: one line: how the arguments become the method's parameters.
        args: the peer's arguments.
        rule: ``rule(args, total) -> Translation``; ``args`` complete (defaults filled, absolute LRs divided by the
            base LR), ``total`` the run's length in the peer's steps.
        refused: why the name is refused (then ``rule`` is ``None``).
        unit: ``unit(args)``: the peer's step, ``'ba'`` (default) or ``'ep'``.
    """
    vocabulary: str
    name: str
    source: str
    maps_to: str
    how: str
    args: tuple[PeerArg, ...] = ()
    rule: Optional[Rule] = None
    refused: str = ''
    unit: Optional[Callable[[dict[str, Any]], str]] = None

    @property
    def key(self) -> str:
        """The namespaced name, ``'hf/cosine'``."""
        return f'{self.vocabulary}/{self.name}'

    @property
    def library(self) -> str:
        return VOCABULARIES[self.vocabulary][0]

    def step_unit(self, kwargs: Mapping[str, Any]) -> str:
        """The unit of this call's steps: ``'ep'`` for timm stepped per epoch, else ``'ba'``."""
        return 'ba' if self.unit is None else self.unit(self.complete(kwargs, check_lr=False))

    def complete(self, kwargs: Mapping[str, Any], base_lr: Optional[float] = None, check_lr: bool = True
                 ) -> dict[str, Any]:
        """``kwargs`` checked against the peer's arguments, defaults filled, absolute LRs divided by ``base_lr``.

        Raises:
            ValueError: the name is refused, an unknown or missing argument, or an absolute LR without a base LR.
        """
        if self.refused:
            raise ValueError(f'{self.key} ({self.library} {self.source}) is not allowed: {self.refused}.')
        known = {a.name: a for a in self.args}
        for name in kwargs:
            if name not in known:
                close = difflib.get_close_matches(name, list(known), n=2, cutoff=0.5)
                hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ''
                raise ValueError(f'{self.key}: unknown argument {name!r}{hint}; {self.library} {self.source} takes: '
                                 f'{", ".join(known)}.')
        out: dict[str, Any] = {}
        for a in self.args:
            if a.name not in kwargs and a.default is REQUIRED:
                raise ValueError(f'{self.key}: argument {a.name!r} is required ({a.doc}).')
            value = kwargs.get(a.name, a.default)
            if a.absolute and value is not None and check_lr:
                if base_lr is None and a.name not in kwargs and value != 0:
                    value = _Unresolved(self.key, a.name, value)  # a default that may go unused (timm's warmup_lr)
                else:
                    value = _rate(self.key, a.name, value, base_lr)
            out[a.name] = value
        return out


@dataclasses.dataclass(frozen=True)
class _Unresolved:
    """An absolute LR left at its default without a base LR: an error only if the translation uses it."""
    key: str
    name: str
    value: float


def _lr(value: Any) -> float:
    """A completed absolute-LR argument as a multiplier (raising when its base LR is missing)."""
    if isinstance(value, _Unresolved):
        return _rate(value.key, value.name, value.value, None)
    return float(value)


def _rate(key: str, name: str, value: Any, base_lr: Optional[float]) -> float:
    """An absolute LR as a multiplier of ``base_lr`` (0 needs no base LR)."""
    v = _number(name, value, lo=0)
    if v == 0:
        return 0.0
    if base_lr is None:
        raise ParamError(name, value, f"given with the optimizer's base LR: {name} is an absolute learning rate "
                         f'({key} divides it by the LR the optimizer was built with); pass base_lr=..., or build '
                         'the scheduler on the optimizer (ScheduleLR, a recipe)')
    return v / _number('base_lr', base_lr, lo=0, lo_open=True)


def _number(name: str, value: Any, lo: Optional[float] = None, lo_open: bool = False,
            hi: Optional[float] = None, hi_open: bool = False, whole: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if ok and whole:
        ok = float(value) == int(value)
    if not ok:
        lo_s = '' if lo is None else f"{'>' if lo_open else '>='} {lo:g}"
        hi_s = '' if hi is None else f"{'<' if hi_open else '<='} {hi:g}"
        allowed = ' and '.join(s for s in (lo_s, hi_s) if s) or 'finite'
        raise ParamError(name, value, f"{'a whole number' if whole else 'a number'} {allowed}".rstrip())
    return float(value)


def _steps(name: str, value: Any, lo: float = 0, lo_open: bool = False) -> Steps:
    return Steps(_number(name, value, lo=lo, lo_open=lo_open, whole=True))


# ------------------------------------------------------------------------------------------------ transformers
_HF_SRC = 'transformers/optimization.py'
_W = PeerArg('num_warmup_steps', 0, 'steps of the linear warm-up from 0 (the Trainer: warmup_steps)')
_T = PeerArg('num_training_steps', None, "total steps (default: the run's length)")
_CYCLES = PeerArg('num_cycles', 0.5, 'waves of the cosine over the decay (0.5: one half-wave down)')


def _hf_lengths(a: dict[str, Any], total: float) -> tuple[Steps, Steps]:
    w = _steps('num_warmup_steps', a['num_warmup_steps'])
    t = Steps(total) if a.get('num_training_steps') is None else _steps('num_training_steps',
                                                                        a['num_training_steps'], lo_open=True)
    if t <= w:
        raise ParamError('num_training_steps', a.get('num_training_steps', float(t)),
                         f'> num_warmup_steps ({w:g}): the decay must have steps')
    return w, t


def _cosine_end(a: dict[str, Any], start: float, length: float) -> Steps:
    """Where a cosine that covers ``num_cycles`` waves over ``length`` steps from ``start`` would reach its bottom:
    half a wave (0.5) ends at ``start + length``; fewer waves stretch it, so the run stops above its bottom."""
    c = _number('num_cycles', a['num_cycles'], lo=0, lo_open=True)
    if c > 0.5:
        raise ParamError('num_cycles', a['num_cycles'], 'in (0, 0.5] here: more than half a wave rises again, '
                         'which no method of ours draws (cosine_with_restarts, sgdr: restarts at the peak)')
    return Steps(start + length / (2 * c))


def _hf_linear(a: dict[str, Any], total: float) -> Translation:
    w, t = _hf_lengths(a, total)
    return Translation('linear', dict(t_warmup=w, t_max=t))


def _hf_cosine(a: dict[str, Any], total: float) -> Translation:
    w, t = _hf_lengths(a, total)
    return Translation('cosine_annealing', dict(t_warmup=w, t_max=_cosine_end(a, w, t - w)))


def _hf_restarts(a: dict[str, Any], total: float) -> Translation:
    w, t = _hf_lengths(a, total)
    c = _number('num_cycles', a['num_cycles'], lo=0, lo_open=True)
    return Translation('sgdr', dict(t_warmup=w, t_0=Steps((t - w) / c)))


def _hf_polynomial(a: dict[str, Any], total: float) -> Translation:
    w, t = _hf_lengths(a, total)
    end = _lr(a['lr_end'])
    if not end < 1:  # transformers: lr_end must be smaller than the initial lr
        raise ParamError('lr_end', end, "below the optimizer's LR (as a multiplier, < 1)")
    power = _number('power', a['power'], lo=0)
    return Translation('polynomial', dict(t_warmup=w, t_max=t, power=power, alpha_f=end))


def _hf_constant(a: dict[str, Any], total: float) -> Translation:
    return Translation('constant', {})


def _hf_constant_warmup(a: dict[str, Any], total: float) -> Translation:
    return Translation('constant', dict(t_warmup=_steps('num_warmup_steps', a['num_warmup_steps'])))


def _hf_inverse_sqrt(a: dict[str, Any], total: float) -> Translation:
    w = _steps('num_warmup_steps', a['num_warmup_steps'])
    scale = a['timescale']
    scale = Steps(w or 10_000) if scale is None else Steps(_number('timescale', scale, lo=0, lo_open=True))
    return Translation('inverse_sqrt', dict(t_warmup=w, t_scale=scale))


def _min_rate(a: dict[str, Any]) -> float:
    lr, rate = a['min_lr'], a['min_lr_rate']
    if lr is not None and rate is not None:
        raise ParamError('min_lr', lr, 'None when min_lr_rate is given (transformers: only one of them)')
    if lr is None and rate is None:
        raise ParamError('min_lr_rate', None, 'given, or min_lr (transformers requires one of them)')
    return _lr(lr) if rate is None else _number('min_lr_rate', rate, lo=0, hi=1)


def _hf_cosine_min(a: dict[str, Any], total: float) -> Translation:
    w, t = _hf_lengths(a, total)
    return Translation('cosine_annealing', dict(t_warmup=w, t_max=_cosine_end(a, w, t - w), alpha_f=_min_rate(a)))


def _hf_cosine_warmup_min(a: dict[str, Any], total: float) -> Translation:
    # transformers counts this one a step ahead: the ramp is (k + 1) / W and the cosine's progress (k - W + 1) /
    # (T - W), so the ramp reaches 1 at k = W - 1 and the cosine its bottom at T - 1: our ramp over W - 1 steps from
    # 1 / W (or warmup_lr_rate) and the cosine placed from W - 1 draw the same values at every step.
    w, t = _hf_lengths(a, total)
    rate = _min_rate(a)
    r = a['warmup_lr_rate']
    if w < 1:
        raise ParamError('num_warmup_steps', int(w), ">= 1 for cosine_warmup_with_min_lr: with no warm-up its cosine "
                         'starts a step past its peak, which no method of ours draws; use cosine_with_min_lr')
    if r is None:
        start = 1.0 / w
    else:
        start = _number('warmup_lr_rate', r, lo=0, hi=1)
        if w < 2 and start != 1:
            raise ParamError('warmup_lr_rate', r, 'None (or 1) with num_warmup_steps=1: a one-step warm-up at '
                             'warmup_lr_rate then jumps a step into the cosine, which no method of ours draws')
    ramp = Steps(w - 1)
    return Translation('cosine_annealing', dict(t_warmup=ramp, alpha_warmup=start, alpha_f=rate,
                                                t_max=_cosine_end(a, ramp, t - w)))


_WSD_DECAY = {'linear': 'linear', '1-sqrt': 'sqrt', 'cosine': 'cosine'}


def _hf_wsd(a: dict[str, Any], total: float) -> Translation:
    w = _steps('num_warmup_steps', a['num_warmup_steps'])
    t = Steps(total) if a['num_training_steps'] is None else _steps('num_training_steps', a['num_training_steps'],
                                                                    lo_open=True)
    d = a['num_decay_steps']
    # transformers requires num_decay_steps; left out, the cool-down is the last 20% of training, our wsd's default
    # (the open request huggingface/transformers#34905: infer the phases from the total).
    d = Steps(0.2 * t) if d is None else _steps('num_decay_steps', d)
    s = a['num_stable_steps']
    end = Steps(w + _steps('num_stable_steps', s) + d) if s is not None else t
    if end - d < w:
        raise ParamError('num_decay_steps', float(d), f'<= num_training_steps - num_warmup_steps ({t - w:g}): the '
                         'warm-up and the decay do not fit in training')
    if a['warmup_type'] != 'linear':
        raise ParamError('warmup_type', a['warmup_type'], "'linear' here: our warm-ups are linear or exponential")
    decay = a['decay_type']
    if decay not in _WSD_DECAY:
        raise ParamError('decay_type', decay, f"one of {', '.join(map(repr, _WSD_DECAY))}")
    if decay == 'cosine' and _number('num_cycles', a['num_cycles'], lo=0, lo_open=True) != 0.5:
        raise ParamError('num_cycles', a['num_cycles'], '0.5 with decay_type=\'cosine\': a cool-down is half a wave')
    m = _number('min_lr_ratio', a['min_lr_ratio'], lo=0, hi=1)
    return Translation('wsd', dict(t_warmup=w, alpha_warmup=m, t_cooldown=d, t_max=end, alpha_f=m,
                                   decay_type=_WSD_DECAY[decay]))


def _hf(name: str, source: str, maps_to: str, how: str, args: tuple[PeerArg, ...], rule: Optional[Rule],
        refused: str = '') -> Peer:
    return Peer('hf', name, f'{source} ({_HF_SRC})', maps_to, how, args, rule, refused)


_HF = [
    _hf('linear', 'get_linear_schedule_with_warmup', 'linear', 'linear from 1 to 0 over [W, T]', (_W, _T), _hf_linear),
    _hf('cosine', 'get_cosine_schedule_with_warmup', 'cosine_annealing',
        'cosine from 1 to 0 over [W, T] (num_cycles < 0.5 stretches it: ends above 0)', (_W, _T, _CYCLES),
        _hf_cosine),
    _hf('cosine_with_restarts', 'get_cosine_with_hard_restarts_schedule_with_warmup', 'sgdr',
        'num_cycles cosines from 1 to 0 over [W, T], t_0 = (T - W) / num_cycles',
        (_W, _T, PeerArg('num_cycles', 1, 'hard restarts over the decay')), _hf_restarts),
    _hf('polynomial', 'get_polynomial_decay_schedule_with_warmup', 'polynomial',
        'polynomial from 1 to lr_end / base_lr over [W, T]',
        (_W, _T, PeerArg('lr_end', 1e-7, 'the final LR (absolute)', absolute=True),
         PeerArg('power', 1.0, 'the exponent')), _hf_polynomial),
    _hf('constant', 'get_constant_schedule', 'constant', '1 (the Trainer\'s warm-up arguments are ignored, as there)',
        (_W, _T), _hf_constant),
    _hf('constant_with_warmup', 'get_constant_schedule_with_warmup', 'constant', 'linear warm-up over W, then 1',
        (_W, _T), _hf_constant_warmup),
    _hf('inverse_sqrt', 'get_inverse_sqrt_schedule', 'inverse_sqrt',
        '1/sqrt(1 + (k - W)/timescale) from W, t_scale = timescale (default W, or 10000 with no warm-up)',
        (_W, _T, PeerArg('timescale', None, 'time scale of the decay (default num_warmup_steps or 10000)')),
        _hf_inverse_sqrt),
    _hf('cosine_with_min_lr', 'get_cosine_with_min_lr_schedule_with_warmup', 'cosine_annealing',
        'cosine from 1 to min_lr_rate (or min_lr / base_lr) over [W, T]',
        (_W, _T, _CYCLES, PeerArg('min_lr', None, 'the final LR (absolute)', absolute=True),
         PeerArg('min_lr_rate', None, 'the final LR as a fraction of the initial one')), _hf_cosine_min),
    _hf('cosine_warmup_with_min_lr', 'get_cosine_with_min_lr_schedule_with_warmup_lr_rate', 'cosine_annealing',
        'as cosine_with_min_lr one step ahead: warm-up from 1/W (or warmup_lr_rate) over W - 1 steps, the cosine '
        'ends at T - 1',
        (_W, _T, _CYCLES, PeerArg('min_lr', None, 'the final LR (absolute)', absolute=True),
         PeerArg('min_lr_rate', None, 'the final LR as a fraction of the initial one'),
         PeerArg('warmup_lr_rate', None, 'where the warm-up starts, as a fraction (default 1/W)')),
        _hf_cosine_warmup_min),
    _hf('warmup_stable_decay', 'get_wsd_schedule', 'wsd',
        'warm-up from min_lr_ratio over W, 1 until the decay, decay over num_decay_steps (default: the last 20%) to '
        'min_lr_ratio, ending at W + num_stable_steps + num_decay_steps (default: T)',
        (_W, PeerArg('num_decay_steps', None, "steps of the decay (default: 20% of training)"), _T,
         PeerArg('num_stable_steps', None, 'steps at the peak (default: T - W - num_decay_steps)'),
         PeerArg('warmup_type', 'linear', "'linear' (cosine and 1-sqrt warm-ups are refused)"),
         PeerArg('decay_type', 'cosine', "'cosine', 'linear' or '1-sqrt'"),
         PeerArg('min_lr_ratio', 0.0, 'where the warm-up starts and the decay ends, a fraction'),
         PeerArg('num_cycles', 0.5, 'waves of a cosine decay (0.5 only)')), _hf_wsd),
    _hf('reduce_lr_on_plateau', 'get_reduce_on_plateau_schedule', '', 'loss-driven', (), None, LOSS_DRIVEN),
    _hf('greedy', 'get_greedy_schedule', '', 'loss-driven (GreedyLR)', (), None, LOSS_DRIVEN),
]


# ------------------------------------------------------------------------------------------------------- timm
_TIMM_SRC = 'timm/scheduler'


@dataclasses.dataclass
class _Timm:
    """timm's arguments in one form, whichever face (factory or class) they came through; lengths in steps."""
    kind: str
    unit: str
    t_initial: Optional[float]
    warmup_t: float
    warmup_lr: float
    prefix: bool
    lr_min: float
    cycle_limit: float = 1
    k_decay: float = 1.0
    power: float = 0.5
    decay_t: Any = None
    decay_rate: float = 0.1
    cooldown_t: float = 0.0
    lb: float = -7.0
    ub: float = 3.0
    decay_fn: Optional[str] = None
    stable_timescale: Optional[float] = None
    noise: Any = None
    decay_fraction: bool = False


def _timm_noise(c: _Timm) -> None:
    if c.noise is not None:
        raise ParamError('noise' if c.kind != 'class' else 'noise_range_t', c.noise,
                         'None here: LR noise is its own method, lr_noise, that multiplies any schedule (a recipe '
                         "lists it as a second scheduler: schedulers: [{name: timm/cosine}, {name: lr_noise, ...}])")


def _timm_t_initial(c: _Timm, total: float, cycle: bool) -> Steps:
    """The schedule's length; left out, what makes timm's returned epoch count the run's length."""
    if c.t_initial is not None:
        return _steps('t_initial', c.t_initial, lo_open=True)
    t = total - c.cooldown_t - (c.warmup_t if c.prefix and cycle else 0.0)
    if t <= 0:
        raise ParamError('num_epochs', None, f'given: the run ({total:g} {c.unit}) is no longer than its warm-up and '
                         'cool-down')
    return Steps(t)


def _timm_warmup(c: _Timm) -> dict[str, Any]:
    w = _steps('warmup_t', c.warmup_t)
    return dict(t_warmup=w, alpha_warmup=_lr(c.warmup_lr)) if w > 0 else {}


def _timm_cycle(c: _Timm, total: float, method: str, shape: dict[str, Any]) -> Translation:
    _timm_noise(c)
    if c.cycle_limit != 1:
        raise ParamError('cycle_limit', c.cycle_limit, '1 here: timm\'s further cycles (cycle_mul, cycle_decay) '
                         'are our sgdr method, which restarts without a limit')
    t_i = _timm_t_initial(c, total, cycle=True)
    warm = _timm_warmup(c)
    w = float(warm.get('t_warmup', 0.0))
    params = dict(warm, alpha_f=_lr(c.lr_min), **shape)
    if c.prefix or not warm:
        params['t_max'] = Steps(w + t_i)
    elif method == 'tanh':
        # timm's tanh ramps to the curve's value at warmup_t and continues it: the same curve over [W, t_i] whose
        # tanh argument starts where timm's is at W (the argument is linear in t).
        params['lb'] = c.lb + (c.ub - c.lb) * w / t_i
        params['t_max'] = t_i
    else:
        params['t_max'] = t_i
        params['warmup_overlay'] = True
    return Translation(method, params, c.unit)


def _timm_rule(c: _Timm, total: float) -> Translation:
    if c.kind == 'cosine':
        return _timm_cycle(c, total, 'cosine_annealing', dict(k_decay=_number('k_decay', c.k_decay, lo=0,
                                                                                lo_open=True)))
    if c.kind == 'poly':
        return _timm_cycle(c, total, 'polynomial', dict(power=_number('power', c.power, lo=0),
                                                        k_decay=_number('k_decay', c.k_decay, lo=0, lo_open=True)))
    if c.kind == 'tanh':
        if not c.ub > c.lb:
            raise ParamError('ub', c.ub, f'> lb ({c.lb})')
        return _timm_cycle(c, total, 'tanh', dict(lb=c.lb, ub=c.ub))
    _timm_noise(c)
    warm = _timm_warmup(c)
    w = float(warm.get('t_warmup', 0.0))
    if c.kind in ('constant', 'none'):
        return Translation('constant', warm, c.unit)
    gamma = _number('decay_rate', c.decay_rate, lo=0)
    if c.kind == 'step':
        period = _number('decay_t', c.decay_t, lo=0, lo_open=True)
        if not (c.prefix and w > 0):
            return Translation('step', dict(warm, step_size=Steps(period), gamma=gamma), c.unit)
        # after a prefix warm-up the steps count from its end: milestones every period from W, through the run
        count = min(int((total + 2 * period) // period) + 1, 100_000)
        return Translation('multi_step', dict(warm, milestones=[Steps(w + k * period) for k in range(1, count)],
                                              gamma=gamma), c.unit)
    if c.kind == 'multistep':
        ms = c.decay_t if isinstance(c.decay_t, (list, tuple)) else [c.decay_t]
        # timm decays when t + 1 reaches a milestone (bisect_right(decay_t, t + 1)): a step before torch's
        out = [Steps(max(_number(f'decay_t[{i}]', m, lo=0) - 1, 0) + (w if c.prefix else 0))
               for i, m in enumerate(ms)]
        # timm's ramp rises to the base LR whatever decays fall inside it; ours to the shape's value at 0, so a
        # milestone at 0 under an overlaid ramp moves to where the ramp ends (the same steps decay)
        out = [Steps(w) if float(m) == 0 and w > 0 and not c.prefix else m for m in out]
        return Translation('multi_step', dict(warm, milestones=sorted(out), gamma=gamma), c.unit)
    if c.kind in ('wsd', 'rsqrt'):
        t_i = _timm_t_initial(c, total, cycle=True)
        t_sched = t_i if c.prefix else Steps(t_i - w)
        d = _number('decay_t', c.decay_t, lo=0, lo_open=True)
        if c.decay_fraction:
            d = d * t_sched
        d = Steps(int(round(d)))
        if not 0 < d <= t_sched:
            raise ParamError('decay_epochs', c.decay_t, f'in (0, {t_sched:g}]: the decay must fit the stable + decay '
                             'length')
        fn = c.decay_fn or ('linear' if c.kind == 'rsqrt' else '1-sqrt')
        if fn not in _WSD_DECAY:
            raise ParamError('decay_fn', fn, f"one of {', '.join(map(repr, _WSD_DECAY))} ('power' and 'exp' are "
                             'not cool-down shapes of ours)')
        end = Steps(w + t_sched)
        if c.kind == 'wsd':
            return Translation('wsd', dict(warm, t_cooldown=d, t_max=end, alpha_f=_lr(c.lr_min),
                                           decay_type=_WSD_DECAY[fn]), c.unit)
        scale = c.stable_timescale if c.stable_timescale is not None else w
        scale = _number('stable_timescale', scale, lo=0, lo_open=True)
        return Translation('inverse_sqrt', dict(warm, t_scale=Steps(scale), t_cooldown=d, t_max=end,
                                                alpha_f=_lr(c.lr_min), decay_type=_WSD_DECAY[fn],
                                                decay_follows=True), c.unit)
    raise AssertionError(c.kind)  # pragma: no cover - the table lists every kind


# The factory: create_scheduler_v2(optimizer, sched=..., **these); lengths in epochs, times updates_per_epoch when
# stepped per update (step_on_epochs=False).
_FACTORY_ARGS = (
    PeerArg('num_epochs', None, "epochs of the schedule (timm: 300; here default: the run's length)"),
    PeerArg('decay_epochs', None, 'step period; wsd/rsqrt decay length (< 1: a fraction); default 90, or 0.2'),
    PeerArg('decay_milestones', (90, 180, 270), 'multistep milestones (epochs)'),
    PeerArg('cooldown_epochs', 0, 'epochs at min_lr after the schedule'),
    PeerArg('patience_epochs', 10, 'plateau only (ignored)'),
    PeerArg('decay_rate', 0.1, 'step/multistep factor; poly: the power'),
    PeerArg('min_lr', 0.0, 'the final LR (absolute)', absolute=True),
    PeerArg('warmup_lr', 1e-5, 'where the warm-up starts (absolute)', absolute=True),
    PeerArg('warmup_epochs', 0, 'warm-up length'),
    PeerArg('warmup_prefix', False, 'the warm-up comes before the schedule (else it overlays its start)'),
    PeerArg('noise', None, 'LR noise range (use the lr_noise method)'),
    PeerArg('noise_pct', 0.67, 'LR noise limit'),
    PeerArg('noise_std', 1.0, 'LR noise std'),
    PeerArg('noise_seed', 42, 'LR noise seed'),
    PeerArg('cycle_mul', 1.0, 'cycle length multiplier (cycle_limit=1 only)'),
    PeerArg('cycle_decay', 0.1, 'cycle peak decay (cycle_limit=1 only)'),
    PeerArg('cycle_limit', 1, 'number of cycles (1 only)'),
    PeerArg('k_decay', 1.0, 'k-decay of cosine and poly'),
    PeerArg('decay_fn', None, "wsd/rsqrt decay: '1-sqrt' (wsd), 'linear' (rsqrt) or 'cosine'"),
    PeerArg('stable_timescale', None, 'rsqrt time scale (default: warmup_epochs)'),
    PeerArg('plateau_mode', 'max', 'plateau only (ignored)'),
    PeerArg('step_on_epochs', True, 'step per epoch (else per update)'),
    PeerArg('updates_per_epoch', 0, 'optimizer updates per epoch (needed when stepping per update)'),
)


def _factory_unit(a: dict[str, Any]) -> str:
    return 'ep' if a['step_on_epochs'] else 'ba'


def _factory(kind: str) -> Rule:
    def rule(a: dict[str, Any], total: float) -> Translation:
        per_epoch = bool(a['step_on_epochs'])
        upe = 1.0
        if not per_epoch:
            upe = _number('updates_per_epoch', a['updates_per_epoch'], lo=0, lo_open=True, whole=True)
        decay_epochs = a['decay_epochs']
        if decay_epochs is None:
            decay_epochs = 0.2 if kind in ('wsd', 'rsqrt') else 90
        fraction = kind in ('wsd', 'rsqrt') and 0 < decay_epochs < 1
        c = _Timm(kind=kind, unit='ep' if per_epoch else 'ba',
                  t_initial=None if a['num_epochs'] is None else _number('num_epochs', a['num_epochs'], lo=0,
                                                                         lo_open=True) * upe,
                  warmup_t=_number('warmup_epochs', a['warmup_epochs'], lo=0) * upe,
                  warmup_lr=a['warmup_lr'], prefix=bool(a['warmup_prefix']), lr_min=a['min_lr'],
                  cycle_limit=a['cycle_limit'], k_decay=a['k_decay'], power=a['decay_rate'],
                  decay_t=[m * upe for m in a['decay_milestones']] if kind == 'multistep'
                  else (decay_epochs if fraction else decay_epochs * upe),
                  decay_rate=a['decay_rate'], cooldown_t=_number('cooldown_epochs', a['cooldown_epochs'], lo=0) * upe,
                  decay_fn=a['decay_fn'],
                  stable_timescale=None if a['stable_timescale'] is None else a['stable_timescale'] * upe,
                  noise=a['noise'], decay_fraction=fraction)
        return _timm_rule(c, total)
    rule.__name__ = rule.__qualname__ = f'_timm_factory_{kind}'
    return rule


_COMMON_CLASS = (
    PeerArg('warmup_t', 0, 'warm-up length (steps)'),
    PeerArg('warmup_lr_init', 0.0, 'where the warm-up starts (absolute)', absolute=True),
    PeerArg('t_in_epochs', True, 't counts epochs (else updates)'),
    PeerArg('noise_range_t', None, 'LR noise range (use the lr_noise method)'),
    PeerArg('noise_pct', 0.67, 'LR noise limit'),
    PeerArg('noise_std', 1.0, 'LR noise std'),
    PeerArg('noise_seed', 42, 'LR noise seed'),
    PeerArg('initialize', True, 'timm bookkeeping (ignored)'),
)
_CYCLE_CLASS = (
    PeerArg('t_initial', None, "length of the first cycle (timm: required; here default: the run's length)"),
    PeerArg('lr_min', 0.0, 'the final LR (absolute)', absolute=True),
    PeerArg('cycle_mul', 1.0, 'cycle length multiplier (cycle_limit=1 only)'),
    PeerArg('cycle_decay', 1.0, 'cycle peak decay (cycle_limit=1 only)'),
    PeerArg('cycle_limit', 1, 'number of cycles (1 only)'),
)


def _class_unit(a: dict[str, Any]) -> str:
    return 'ep' if a['t_in_epochs'] else 'ba'


def _class(kind: str) -> Rule:
    def rule(a: dict[str, Any], total: float) -> Translation:
        c = _Timm(kind=kind, unit=_class_unit(a), t_initial=a.get('t_initial'),
                  warmup_t=_number('warmup_t', a['warmup_t'], lo=0), warmup_lr=a['warmup_lr_init'],
                  prefix=bool(a.get('warmup_prefix', True)), lr_min=a.get('lr_min', 0.0),
                  cycle_limit=a.get('cycle_limit', 1), k_decay=a.get('k_decay', 1.0), power=a.get('power', 0.5),
                  decay_t=a.get('decay_t'), decay_rate=a.get('decay_rate', 1.0), lb=a.get('lb', -7.0),
                  ub=a.get('ub', 3.0), decay_fn=a.get('decay_fn'), stable_timescale=a.get('stable_timescale'),
                  noise=a['noise_range_t'])
        if kind in ('wsd', 'rsqrt'):
            c.prefix = True  # WSDLRScheduler's t_initial is the stable + decay length, after the warm-up
            if a['stable_fn'] != ('rsqrt' if kind == 'rsqrt' else 'constant') or a['stable_power'] != 0.5:
                raise ParamError('stable_fn', a['stable_fn'], "'constant' (wsd) or 'rsqrt' with stable_power=0.5")
        return _timm_rule(c, total)
    rule.__name__ = rule.__qualname__ = f'_timm_class_{kind}'
    return rule


def _wsd_class_rule(a: dict[str, Any], total: float) -> Translation:
    kind = 'rsqrt' if a['stable_fn'] == 'rsqrt' else 'wsd'
    return _class(kind)(a, total)


def _timm(name: str, source: str, maps_to: str, how: str, args: tuple[PeerArg, ...], rule: Optional[Rule],
          refused: str = '', unit: Optional[Callable[[dict[str, Any]], str]] = None) -> Peer:
    return Peer('timm', name, f'{source} ({_TIMM_SRC})', maps_to, how, args, rule, refused, unit)


_FACTORY = 'create_scheduler_v2'
_TIMM = [
    _timm('cosine', _FACTORY, 'cosine_annealing', 'cosine from 1 to min_lr over num_epochs (k_decay kept); '
          'warmup_prefix=False lays the warm-up over its start', _FACTORY_ARGS, _factory('cosine'), unit=_factory_unit),
    _timm('tanh', _FACTORY, 'tanh', 'tanh from 1 to min_lr over num_epochs (lb=-7, ub=3)', _FACTORY_ARGS,
          _factory('tanh'), unit=_factory_unit),
    _timm('poly', _FACTORY, 'polynomial', 'polynomial of power decay_rate (!) to min_lr over num_epochs',
          _FACTORY_ARGS, _factory('poly'), unit=_factory_unit),
    _timm('step', _FACTORY, 'step', 'times decay_rate every decay_epochs (after a prefix warm-up: multi_step)',
          _FACTORY_ARGS, _factory('step'), unit=_factory_unit),
    _timm('multistep', _FACTORY, 'multi_step', 'times decay_rate at each of decay_milestones - 1 (timm decays when '
          't + 1 reaches one)', _FACTORY_ARGS, _factory('multistep'), unit=_factory_unit),
    _timm('constant', _FACTORY, 'constant', '1 after the warm-up', _FACTORY_ARGS, _factory('constant'),
          unit=_factory_unit),
    _timm('none', _FACTORY, 'constant', "no scheduler: 1 (timm's sched='none')", _FACTORY_ARGS, _factory('none'),
          unit=_factory_unit),
    _timm('wsd', _FACTORY, 'wsd', 'warm-up (always a prefix), 1, then a 1-sqrt decay over decay_epochs (< 1: a '
          'fraction of the stable + decay length) to min_lr', _FACTORY_ARGS, _factory('wsd'), unit=_factory_unit),
    _timm('rsqrt', _FACTORY, 'inverse_sqrt', '1/sqrt(1 + t/stable_timescale) after the warm-up, then a linear '
          'decay over decay_epochs to min_lr that multiplies it (decay_follows)', _FACTORY_ARGS,
          _factory('rsqrt'), unit=_factory_unit),
    _timm('plateau', _FACTORY, '', 'loss-driven', (), None, LOSS_DRIVEN),
    _timm('CosineLRScheduler', 'cosine_lr.CosineLRScheduler', 'cosine_annealing', 'as timm/cosine, class defaults',
          _CYCLE_CLASS + (PeerArg('warmup_prefix', False, 'warm-up before the schedule'),
                          PeerArg('k_decay', 1.0, 'k-decay')) + _COMMON_CLASS, _class('cosine'), unit=_class_unit),
    _timm('TanhLRScheduler', 'tanh_lr.TanhLRScheduler', 'tanh', 'as timm/tanh, class defaults',
          _CYCLE_CLASS + (PeerArg('lb', -7.0, 'tanh argument at the start'),
                          PeerArg('ub', 3.0, 'tanh argument at the end'),
                          PeerArg('warmup_prefix', False, 'warm-up before the schedule')) + _COMMON_CLASS,
          _class('tanh'), unit=_class_unit),
    _timm('PolyLRScheduler', 'poly_lr.PolyLRScheduler', 'polynomial', 'as timm/poly, power default 0.5',
          _CYCLE_CLASS + (PeerArg('power', 0.5, 'the exponent'), PeerArg('k_decay', 1.0, 'k-decay'),
                          PeerArg('warmup_prefix', False, 'warm-up before the schedule')) + _COMMON_CLASS,
          _class('poly'), unit=_class_unit),
    _timm('StepLRScheduler', 'step_lr.StepLRScheduler', 'step', 'as timm/step; class default warmup_prefix=True, '
          'decay_rate=1', (PeerArg('decay_t', REQUIRED, 'step period'), PeerArg('decay_rate', 1.0, 'the factor'),
                           PeerArg('warmup_prefix', True, 'warm-up before the schedule')) + _COMMON_CLASS,
          _class('step'), unit=_class_unit),
    _timm('MultiStepLRScheduler', 'multistep_lr.MultiStepLRScheduler', 'multi_step', 'as timm/multistep; class '
          'default warmup_prefix=True, decay_rate=1',
          (PeerArg('decay_t', REQUIRED, 'milestones'), PeerArg('decay_rate', 1.0, 'the factor'),
           PeerArg('warmup_prefix', True, 'warm-up before the schedule')) + _COMMON_CLASS,
          _class('multistep'), unit=_class_unit),
    _timm('WSDLRScheduler', 'wsd_lr.WSDLRScheduler', 'wsd', "as timm/wsd (stable_fn='rsqrt': as timm/rsqrt); "
          "t_initial is the stable + decay length",
          (PeerArg('t_initial', None, "stable + decay length (here default: the run after the warm-up)"),
           PeerArg('decay_t', REQUIRED, 'decay length'),
           PeerArg('lr_min', 0.0, 'the final LR (absolute)', absolute=True),
           PeerArg('stable_fn', 'constant', "'constant' or 'rsqrt'"),
           PeerArg('stable_timescale', None, 'rsqrt time scale (default warmup_t)'),
           PeerArg('stable_power', 0.5, 'rsqrt power (0.5 only)'),
           PeerArg('decay_fn', '1-sqrt', "'1-sqrt', 'linear' or 'cosine'"),
           PeerArg('decay_power', 0.5, "decay_fn='power' only (refused)"),
           PeerArg('decay_ratio', 0.1, "decay_fn='exp' only (refused)")) + _COMMON_CLASS,
          _wsd_class_rule, unit=_class_unit),
    _timm('PlateauLRScheduler', 'plateau_lr.PlateauLRScheduler', '', 'loss-driven', (), None, LOSS_DRIVEN),
]

#: Every peer name, by its namespaced key (``'hf/cosine'``, ``'timm/CosineLRScheduler'``).
PEERS: dict[str, Peer] = {p.key: p for p in _HF + _TIMM}


def find_peer(name: str, kwargs: Optional[Mapping[str, Any]] = None) -> Optional[Peer]:
    """The peer a name means: ``'hf/x'`` or ``'timm/x'`` exactly, or a bare name one vocabulary has (when both
    have it, the one whose arguments ``kwargs`` fit); ``None`` when no peer has it.

    Raises:
        ValueError: a namespaced name the peer does not have, or a bare name both vocabularies have and ``kwargs``
            do not tell apart.

    Example:
        >>> find_peer('cosine_with_min_lr').key, find_peer('cosine', {'num_warmup_steps': 10}).key
        ('hf/cosine_with_min_lr', 'hf/cosine')
        >>> find_peer('timm/cosine').source
        'create_scheduler_v2 (timm/scheduler)'
    """
    if not isinstance(name, str):
        return None
    prefix, slash, rest = name.partition('/')
    if slash and prefix in VOCABULARIES:
        peer = PEERS.get(name)
        if peer is None:
            raise ValueError(f'{name!r} is not one of the schedule names of {VOCABULARIES[prefix][0]}'
                             f'{peer_suggestion(rest, vocabulary=prefix)}; its names: '
                             f'{", ".join(p.name for p in PEERS.values() if p.vocabulary == prefix)}.')
        return peer
    found = [p for p in PEERS.values() if p.name == name]
    if len(found) > 1 and kwargs:
        fits = [p for p in found if all(k in {a.name for a in p.args} for k in kwargs)]
        found = fits or found
    if len(found) > 1:
        raise ValueError(f'{name!r} is a schedule name of {" and of ".join(p.library for p in found)}: write '
                         f'{" or ".join(repr(p.key) for p in found)}.')
    return found[0] if found else None


def peer_suggestion(name: str, vocabulary: Optional[str] = None) -> str:
    """`` (did you mean ...?)`` naming the closest peer names with their vocabulary, or ``''``.

    Example:
        >>> peer_suggestion('warmup_stable_decai'), peer_suggestion('tanhlr')
        (" (did you mean 'hf/warmup_stable_decay' (transformers)?)", " (did you mean 'timm/tanh' (timm)?)")
    """
    pool = {p.key: p for p in PEERS.values() if vocabulary in (None, p.vocabulary)}
    by_name: dict[str, list[str]] = {}
    for key, p in pool.items():
        by_name.setdefault(p.name, []).append(key)
    close = difflib.get_close_matches(str(name).partition('/')[2] or str(name), list(by_name), n=1, cutoff=0.6)
    keys = [k for n in close for k in by_name[n]]
    if not keys:
        return ''
    return f" (did you mean {' or '.join(f'{k!r} ({PEERS[k].library})' for k in keys)}?)"


def both_suggestions(ours: str, name: str) -> str:
    """One "did you mean" naming both vocabularies: ``ours`` (a :func:`~composer_sched.schedules.registry.suggest`
    answer over our names) and the closest peer names of ``name``.

    Example:
        >>> both_suggestions(" (did you mean 'constant_with_warmup'?)", 'consine_with_min_lr')
        " (did you mean 'constant_with_warmup'; or 'hf/cosine_with_min_lr' (transformers)?)"
    """
    theirs = peer_suggestion(name)
    if not (ours and theirs):
        return ours or theirs
    return ours[:-2] + '; or ' + theirs[len(' (did you mean '):]


def translate_peer(name: str, kwargs: Mapping[str, Any], base_lr: Optional[float] = None,
              total: Optional[float] = None) -> Translation:
    """A peer's schedule (by name, with the peer's arguments) as a registered method and its parameters.

    Args:
        name: a peer name (see :func:`find_peer`).
        kwargs: the peer's arguments.
        base_lr: the optimizer's LR, ``> 0``, for arguments that are absolute LRs.
        total: the run's length in the peer's steps (the translation's unit), used where a length is left out;
            default: ``10**6`` (enough to check the arguments; the adapters pass the run's).

    Raises:
        ValueError: not a peer name, a refused name, an unknown, missing or out-of-range argument (named as the
            peer spells it).

    Example:
        >>> translate_peer('timm/cosine', dict(num_epochs=100, warmup_epochs=5, min_lr=1e-5, warmup_lr=1e-6),
        ...           base_lr=1e-3).params
        {'t_warmup': Steps(5.0), 'alpha_warmup': 0.001, 'alpha_f': 0.01, 'k_decay': 1.0, 't_max': Steps(100.0), \
'warmup_overlay': True}
    """
    peer = find_peer(name, kwargs)
    if peer is None:
        raise ValueError(f'{name!r} is not a peer schedule name{peer_suggestion(name)}.')
    args = peer.complete(kwargs, base_lr)
    assert peer.rule is not None
    try:
        return peer.rule(args, float(10 ** 6 if total is None else total))
    except ParamError as e:
        raise ValueError(f'{peer.key}: {e}') from None
