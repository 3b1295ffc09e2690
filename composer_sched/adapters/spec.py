"""A registered method with its arguments checked: what both adapters build schedules from."""
from __future__ import annotations

from typing import Any, Optional, Union

from composer_sched.adapters.durations import Horizon, Unit, axis_of, parse_duration
from composer_sched.schedules import ConstantSchedule, Schedule
from composer_sched.schedules._base import ParamError
from composer_sched.schedules.peers import Peer, Steps, both_suggestions, find_peer, translate_peer
from composer_sched.schedules.registry import (
    Method,
    MethodConfig,
    Param,
    get_method,
    method_names,
    methods,
    params_of,
    suggest,
    unknown_parameter,
)
from composer_sched.schedules.warmup import WarmupConfig, warm_up

__all__ = ['ScheduleSpec', 'WARMUP_PARAMS', 'RUN_CLOCK_METHODS', 'duration_role']

#: Generic warm-up parameters every method accepts (the warm-up is a wrapper, never part of a shape): the fields of
#: :class:`~composer_sched.schedules.warmup.WarmupConfig`.
WARMUP_PARAMS: tuple[Param, ...] = params_of(WarmupConfig)

#: Methods evaluated on the run's clock, the warm-up laid over their start (their configs' ``RUN_CLOCK``): their
#: durations are milestones, as in Composer's ``MultiStepWithWarmupScheduler`` (and its old ``ComposedScheduler``,
#: which kept stepping ``StepLR`` and ``MultiStepLR`` during the warm-up).
RUN_CLOCK_METHODS = frozenset(m.name for m in methods() if m.run_clock)


def duration_role(method: str, param: str) -> str:
    """How the adapters place a duration parameter of a registered method after a warm-up :math:`W`.

    * ``'time'``: a time on the run's clock (the method keeps the run's clock; the warm-up overlays its start);
    * ``'end'``: where the shape ends on the run's clock; the shape starts at :math:`W`, so it spans
      ``[W, end]`` (the builder gets ``end - W``);
    * ``'length'``: a length, starting when the warm-up ends (the builder gets it as is).

    Every ``dur`` value is a fraction of the whole (scaled) run, whatever its role.

    Example:
        >>> duration_role('multi_step', 'milestones'), duration_role('wsd', 't_max'), duration_role('wsd', 't_cooldown')
        ('time', 'end', 'length')
    """
    m = get_method(method)
    if m.run_clock:
        return 'time'
    return 'end' if any(p.name == param and p.end for p in m.params) else 'length'


def _validated(method: Method, config: Optional[type[MethodConfig]], params: tuple[Param, ...],
               values: dict[str, Any]) -> tuple[dict[str, Any], Optional[MethodConfig]]:
    """``values`` checked by constructing ``config`` (the one validation of a method's parameters), as plain
    values (numbers as floats, lists as lists), and the config made; a ``ValueError`` opens with the method's
    name."""
    made = None
    try:
        if config is not None:
            made = config(**values)
            checked = {p.name: getattr(made, p.name) for p in params}
        else:  # a method declared without a config class: the same per-parameter rule
            checked = {p.name: p.validate(values[p.name]) for p in params}
    except ParamError as e:
        raise ValueError(f'{method.name}: {e}') from None
    return {k: list(v) if isinstance(v, tuple) else v for k, v in checked.items()}, made


class ScheduleSpec:
    """A registered method plus validated arguments; :meth:`build` places it on a training horizon.

    Args:
        method: a registered method name (see :func:`composer_sched.schedules.method_names`) or a ``Method``; or a
            peer's name (``'hf/cosine_with_min_lr'``, ``'timm/cosine'``, a bare name when only a peer has it: see
            :mod:`composer_sched.schedules.peers`) with the peer's arguments.
        base_lr: the optimizer's LR, for a peer's arguments that are absolute LRs (``lr_end``, ``min_lr``, ...).
        t_warmup: warm-up length (Composer time string), default none. An absolute one is not scaled by the ratio;
            ``'dur'`` is a fraction of this (scaled) run.
        warmup_type: ``'linear'`` or ``'exponential'``.
        alpha_warmup: multiplier at the start of the warm-up, ``>= 0`` (``> 0`` for exponential).
        scale_warmup: scale the warm-up with the ratio, its end included (default ``False``).
        warmup_overlay: lay the warm-up over the start of the shape, which keeps the run's clock, as a method of
            :data:`RUN_CLOCK_METHODS` always does (timm's ``warmup_prefix=False``); default ``False``: the shape
            starts when the warm-up ends.
        **params: the method's own parameters (``composer-sched list`` shows them).

    Raises:
        ValueError: unknown method or parameter (with the closest valid names), a missing required parameter,
            or a value outside its range.
    """

    def __init__(self, method: Union[str, Method], *, base_lr: Optional[float] = None, **params: Any):
        #: the peer name this spec was given, its arguments and the base LR (``None``: a registered method)
        self.peer: Optional[Peer] = None
        self.peer_args: dict[str, Any] = {}
        self.base_lr = base_lr
        if isinstance(method, str) and method not in method_names():
            peer = find_peer(method, params)
            if peer is None:
                raise ValueError(f'schedule method {method!r} is not registered'
                                 f'{both_suggestions(suggest(method, method_names()), method)}; registered '
                                 f'methods: {", ".join(method_names())}; '
                                 "transformers' names: hf/<name>, timm's: timm/<name> (composer-sched list --hf, "
                                 '--timm).')
            self.peer, self.peer_args = peer, dict(params)
            translation = translate_peer(peer.key, params, base_lr, self._nominal_total())
            method, params = translation.method, self._durations(translation.params, translation.unit, None)
        self.method = get_method(method)
        known = {p.name: p for p in self.method.params + WARMUP_PARAMS}
        for name in params:
            if name not in known:
                raise unknown_parameter(self.method.name, name, list(known))
        self.params: dict[str, Any] = {}
        self.durations: dict[str, Any] = {}
        for p in known.values():
            if p.name not in params and p.required:
                raise ValueError(f'{self.method.name}: parameter {p.name!r} is required ({p.doc}).')
            value = params.get(p.name, p.default)
            self.params[p.name] = value
            if p.kind == 'duration':
                self.durations[p.name] = parse_duration(f'{self.method.name}: {p.name}', value)
            elif p.kind == 'durations':
                if value is None and p.optional:
                    self.durations[p.name] = []
                    continue
                if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                    raise ValueError(f'{self.method.name}: {p.name}={value!r} is not allowed: {p.name} must be a '
                                     "list of durations such as ['30ep', '60ep'].")
                self.durations[p.name] = [parse_duration(f'{self.method.name}: {p.name}[{i}]', v)
                                          for i, v in enumerate(value)]
        # The method's own values (and the warm-up's) are checked by constructing their configs, nowhere else.
        # The method's config is kept: building on a horizon calls its build() with the durations, without
        # validating the same values again.
        self._config: Optional[MethodConfig] = None
        for config, group in ((self.method.config, self.method.params), (WarmupConfig, WARMUP_PARAMS)):
            checked, made = _validated(self.method, config, group, {p.name: self.params[p.name] for p in group})
            self.params.update({k: v for k, v in checked.items() if k not in self.durations})
            if config is self.method.config:
                self._config = made
        if (self.params['warmup_type'] == 'exponential' and self.params['alpha_warmup'] <= 0
                and self.durations['t_warmup'].value > 0):
            raise ValueError(f"{self.method.name}: alpha_warmup={self.params['alpha_warmup']!r} is not allowed: "
                             'an exponential warm-up must start above 0.')
        flat = {}
        for name, d in self.durations.items():
            for i, t in enumerate(d if isinstance(d, list) else [d]):
                flat[f'{name}[{i}]' if isinstance(d, list) else name] = t
        #: the time axis fixed by explicit units (None: all in 'dur', follow max_duration)
        self.axis: Optional[Unit] = axis_of({k: v for k, v in flat.items() if v.value != 0 or k != 't_warmup'})

    @property
    def name(self) -> str:
        return self.method.name

    def user_params(self) -> dict[str, Any]:
        """The arguments that differ from the defaults, as given (a peer's: its own arguments)."""
        if self.peer is not None:
            return dict(self.peer_args)
        defaults = {p.name: p.default for p in self.method.params + WARMUP_PARAMS}
        return {k: v for k, v in self.params.items() if v != defaults[k]}

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in self.user_params().items())
        name = self.method.name if self.peer is None else self.peer.key
        return f'ScheduleSpec({name!r}{", " if args else ""}{args})'

    # -- peers' names ------------------------------------------------------------------------------------------
    def _nominal_total(self) -> float:
        """A stand-in for the run's length (in the peer's steps) to check a peer's arguments at construction, before
        the run is known: long enough for any warm-up or decay given in steps."""
        given = [float(v) for v in self.peer_args.values()
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 1]
        return max([10.0 ** 6] + [10 * v for v in given])

    def peer_total(self) -> Optional[int]:
        """The run's length in steps that a peer's arguments give (``None``: they leave it to the run): transformers'
        ``num_training_steps``; timm's schedule length with its prefix warm-up and cool-down, as timm's factory
        returns it."""
        a = self.peer_args
        if self.peer is None:
            return None
        if self.peer.vocabulary == 'hf':
            t = a.get('num_training_steps')
            if t is None and a.get('num_stable_steps') is not None and a.get('num_decay_steps') is not None:
                t = a.get('num_warmup_steps', 0) + a['num_stable_steps'] + a['num_decay_steps']
            return None if t is None else int(t)
        if a.get('num_epochs') is not None:
            upe = 1 if a.get('step_on_epochs', True) else int(a.get('updates_per_epoch') or 1)
            extra = a.get('cooldown_epochs', 0) + (a.get('warmup_epochs', 0) if a.get('warmup_prefix') else 0)
            return int(round((a['num_epochs'] + extra) * upe))
        if a.get('t_initial') is not None:
            prefix = a.get('warmup_prefix', self.peer.name == 'WSDLRScheduler')
            return int(round(a['t_initial'] + (a.get('warmup_t', 0) if prefix else 0)))
        return None

    @property
    def peer_unit(self) -> str:
        """The unit of the peer's steps: ``'ep'`` (timm stepped per epoch) or ``'ba'``."""
        return 'ba' if self.peer is None else self.peer.step_unit(self.peer_args)

    @staticmethod
    def _durations(params: dict[str, Any], unit: str, total: Optional[float]) -> dict[str, Any]:
        """A translation's :class:`~composer_sched.schedules.peers.Steps` as Composer durations: whole steps as
        ``'<n>ba'`` / ``'<n>ep'`` (absolute: they scale with a ratio, a warm-up does not), fractions of a step as a
        fraction of the run (``total`` steps)."""
        def one(v: Any) -> Any:
            if not isinstance(v, Steps):
                return v
            if float(v) == int(v):
                return f'{int(v)}{unit}'
            if total is None:  # only at construction, to check the arguments: any valid duration will do
                return '1dur'
            return f'{float(v) / total!r}dur'
        return {k: [one(x) for x in v] if isinstance(v, list) else one(v) for k, v in params.items()}

    def _peer_spec(self, horizon: Horizon) -> 'ScheduleSpec':
        """The registered method's spec this peer call is on ``horizon``: the peer's lengths left out are the
        run's (unscaled: the adapters scale them with the ratio as our absolute durations)."""
        assert self.peer is not None
        total = horizon.total / horizon.ssr
        if self.peer_unit == 'ep':
            if horizon.batches_per_epoch is None:
                raise ValueError(f'{self!r} steps per epoch: the number of batches per epoch is unknown '
                                 '(ScheduleLR: steps_per_epoch=...).')
            total /= float(horizon.batches_per_epoch)
        translation = translate_peer(self.peer.key, self.peer_args, self.base_lr, total)
        return ScheduleSpec(translation.method, **self._durations(translation.params, translation.unit, total))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduleSpec) and (other.name, other.params) == (self.name, self.params)

    def __hash__(self) -> int:
        return hash(repr(self))

    def horizon(self, max_duration: Any, ssr: float = 1.0, batches_per_epoch: Optional[float] = None) -> Horizon:
        """Place ``max_duration`` (already scaled) on this spec's time axis."""
        return Horizon.from_max_duration(max_duration, self.axis, ssr, batches_per_epoch)

    def warmup_length(self, horizon: Horizon) -> float:
        return horizon.warmup(self.durations['t_warmup'], self.params['scale_warmup'])

    def all_warmup(self, horizon: Horizon) -> bool:
        """Whether the warm-up lasts the whole run on ``horizon`` (the run is all warm-up, as Composer allows)."""
        w = self.warmup_length(horizon)
        return w > 0 and w >= horizon.total

    def _resolved(self, horizon: Horizon, warmup: float) -> tuple[dict, dict]:
        """The builder's arguments (durations on the main clock, which starts at ``warmup``), and the 'end'
        durations on the run's clock."""
        kwargs, ends = {}, {}
        for p in self.method.params:
            where = f'{self.method.name}: {p.name}'
            value: Any
            if p.kind == 'duration':
                value = horizon.resolve(where, self.durations[p.name])
            elif p.kind == 'durations':
                value = horizon.resolve_all(where, self.durations[p.name])
            else:
                kwargs[p.name] = self.params[p.name]
                continue
            if p.kind == 'duration' and duration_role(self.method.name, p.name) == 'end':
                ends[p.name] = value
                value -= warmup
            kwargs[p.name] = value
        return kwargs, ends

    def _main(self, kwargs: dict, horizon: Horizon) -> Schedule:
        try:
            if self._config is not None:  # validated at construction: only the durations are new
                return self._config.build(**{p.name: kwargs[p.name] for p in self.method.params
                                             if p.kind in ('duration', 'durations')})
            return self.method.build(**kwargs)
        except ValueError as e:
            raise ValueError(f'{self!r} on max_duration={horizon.total:g}{horizon.axis.value} '
                             f'(ssr={horizon.ssr:g}): {e}') from None

    def build(self, horizon: Horizon) -> Schedule:
        """The core schedule of multipliers on ``horizon``'s axis (time 0 = the start of training).

        Composer's ``*WithWarmup`` placement: the warm-up :math:`W` overlays the start of the run; a method of
        :data:`RUN_CLOCK_METHODS` keeps the run's clock (its milestones stay where they were given), any other
        shape starts at :math:`W` and ends where its ``t_max`` says (see :func:`duration_role`). A warm-up as long
        as the run (or longer) makes the run all warm-up.

        Raises:
            ValueError: a shape ends before the warm-up does, or the resolved durations are inconsistent (e.g. a
                cool-down longer than training); the message names the method and its arguments.
        """
        if self.peer is not None:
            try:
                return self._peer_spec(horizon).build(horizon)
            except ValueError as e:
                raise ValueError(f'{self!r} on max_duration={horizon.total:g}{horizon.axis.value}: {e}') from None
        warmup = self.warmup_length(horizon)
        run_clock = self.method.run_clock or bool(self.params.get('warmup_overlay'))
        kwargs, ends = self._resolved(horizon, 0.0 if run_clock else warmup)
        early = {k: v for k, v in ends.items() if v <= warmup}
        if self.all_warmup(horizon) and early:
            # The shape never runs inside the run: the ramp ends at its first value (Composer's alpha_i).
            first = self._main(self._resolved(horizon, 0.0)[0], horizon)(0.0)
            main: Schedule = ConstantSchedule(first)
        elif early:
            name, end = next(iter(early.items()))
            raise ValueError(f'{self.method.name}: {name}={self.params[name]!r} ({end:g} {horizon.axis.value}) is not '
                             f"allowed: it must end after the warm-up t_warmup={self.params['t_warmup']!r} ({warmup:g} "
                             f'{horizon.axis.value}), both on the run\'s clock.')
        else:
            main = self._main(kwargs, horizon)
        if self.params['warmup_type'] == 'exponential' and warmup > 0:
            end = main(0.0)  # where the ramp ends (overlaid or shifted)
            if end <= 0:
                raise ValueError(f"{self.method.name}: warmup_type='exponential' is not allowed here: the schedule is "
                                 f'{end:g} where the warm-up ends and a geometric ramp cannot reach 0; use '
                                 "warmup_type='linear'.")
        return warm_up(main, warmup, start_lr=self.params['alpha_warmup'], kind=self.params['warmup_type'],
                       shift=not run_clock)
