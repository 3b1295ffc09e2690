"""Every numeric bound is written once (issue 24): a core shape declares its field's interval
(``dataclasses.field(metadata=interval(...))``) and checks it with ``check_bounds``; a method's config whose
parameter becomes that field refers to it (``param(bound=bound_of(Shape, 'field'))``) instead of repeating it.

Two checks: (1) for every registered method, a parameter with a numeric interval that reaches a shape field which
checks its own interval must take that interval from the field; (2) no shape checks a field against literal bounds
in code (``check_number('x', self.x, lo=0)``), which a config could not read."""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re

import pytest

import composer_sched.schedules as core
from composer_sched.schedules._base import Schedule, bound_of, interval
from composer_sched.schedules.registry import MethodConfig, configclass, get_method, method_names, param, params_of
from composer_sched.schedules.warmup import LinearWarmUp, WarmupConfig
from composer_sched.schedules.wsd import StableDecaySchedule

# check_number('name', self.name or name, lo=<number>, ...) with literal ends only: a bound only code can read
_LITERAL_CHECK = re.compile(r"check_number\('(\w+)', (?:self\.)?\1((?:, (?:lo|hi|lo_open|hi_open)=(?:-?[\d.]+|True|"
                            r"False|None))*)\)")


def _numbers(kind):
    return {'duration': 10.0, 'durations': [20.0, 60.0]}.get(kind)


def _built(name):
    """The method built from its examples, its durations as numbers (the one that ends the shape: 100)."""
    m = get_method(name)
    kwargs = {}
    for p in m.params:
        if p.kind in ('duration', 'durations'):
            kwargs[p.name] = 100.0 if p.end else _numbers(p.kind)
        else:
            kwargs[p.name] = m.example[p.name]
    return m.build(**kwargs)


def _shapes(obj, seen=None) -> set[type]:
    """The shape classes a built schedule is made of: itself, the shapes it wraps, a cyclical one's cycle class."""
    seen = set() if seen is None else seen
    if isinstance(obj, type):
        seen.add(obj)
        return seen
    seen.add(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name, None)
        if isinstance(value, Schedule) and type(value) not in seen:
            _shapes(value, seen)
        elif isinstance(value, type) and issubclass(value, Schedule):
            seen.add(value)
    return seen


def _code(cls: type) -> str:
    """The source of the constructor ``cls`` defines (``__init__``, ``__post_init__``); a dataclass-generated
    ``__init__`` has none and checks nothing."""
    fns = [vars(cls)[n] for n in ('__init__', '__post_init__') if inspect.isfunction(vars(cls).get(n))]
    return ''.join(inspect.getsource(fn) for fn in fns if not fn.__code__.co_filename.startswith('<'))


def _checks_own_interval(cls: type, field: str) -> bool:
    """``cls`` declares an interval for ``field``, or checks one in its constructor."""
    if any(f.name == field and 'bound' in f.metadata for f in dataclasses.fields(cls)):
        return True
    return re.search(rf"check_number\('{field}'", _code(cls)) is not None


def declared_twice(config: type[MethodConfig], aliases, shapes) -> list[str]:
    """The parameters of ``config`` that repeat an interval a shape in ``shapes`` declares for their field, and
    those whose ``bound_of`` names a shape that is not built."""
    problems = []
    names = {f'{s.__name__}' for s in shapes}
    for p in params_of(config):
        if p.lo is None and p.hi is None:
            continue
        fields = {p.name} | {core_name for core_name, user in aliases.items() if user == p.name}
        owners = [f'{s.__name__}.{f}' for s in shapes for f in fields
                  if f in {x.name for x in dataclasses.fields(s)} and _checks_own_interval(s, f)]
        if owners and not p.bound_source:
            problems.append(f'{config.__name__}.{p.name}: its interval is written again; {", ".join(owners)} '
                            'declares it: write param(bound=bound_of(...))')
        if p.bound_source and p.bound_source.split('.')[0] not in names:
            problems.append(f'{config.__name__}.{p.name}: bound_of({p.bound_source}) names a shape it does not '
                            f'build ({", ".join(sorted(names))})')
    return problems


@pytest.mark.parametrize('name', method_names())
def test_a_configs_bounds_come_from_the_shape_it_builds(name):
    m = get_method(name)
    assert declared_twice(m.config, m.aliases, _shapes(_built(name))) == []


def test_the_generic_warmup_takes_its_bound_from_the_ramp():
    shapes = {LinearWarmUp}
    assert declared_twice(WarmupConfig, {'start_lr': 'alpha_warmup'}, shapes) == []
    assert {p.name: p.bound_source for p in params_of(WarmupConfig)}['alpha_warmup'] == 'LinearWarmUp.start_lr'


def test_a_bound_written_twice_is_found():
    # the check can fail: a config repeating a shape's interval as a literal is reported, one naming it is not
    @configclass
    class Repeated(MethodConfig):
        """WSD with its final multiplier's bound written again."""
        alpha_f: float = param(0.0, 'final multiplier', lo=0, hi=1)

    @configclass
    class Referring(MethodConfig):
        """WSD with its final multiplier's bound read from the shape."""
        alpha_f: float = param(0.0, 'final multiplier', bound=bound_of(StableDecaySchedule, 'final_lr').narrowed(hi=1))

    aliases = {'final_lr': 'alpha_f'}
    found = declared_twice(Repeated, aliases, {StableDecaySchedule})
    assert len(found) == 1 and 'StableDecaySchedule.final_lr declares it' in found[0]
    assert declared_twice(Referring, aliases, {StableDecaySchedule}) == []
    assert 'does not build' in declared_twice(Referring, aliases, {LinearWarmUp})[0]
    # and the shape's declaration is what both the config and the shape check
    assert params_of(Referring)[0].allowed == 'in [0, 1]'
    with pytest.raises(ValueError, match=r'final_lr=-1 is not allowed: final_lr must be in \[0, inf\]'):
        StableDecaySchedule(length=10, cooldown_length=2, final_lr=-1)


def _shape_classes():
    for info in pkgutil.iter_modules(core.__path__):
        module = importlib.import_module(f'composer_sched.schedules.{info.name}')
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Schedule) and obj.__module__ == module.__name__:
                yield obj


def test_no_shape_checks_a_field_against_literal_bounds_in_code():
    literal = []
    for cls in _shape_classes():
        literal += [f'{cls.__name__}.{m.group(1)}: {m.group(0)}' for m in _LITERAL_CHECK.finditer(_code(cls))]
    assert literal == [], ('declare these intervals on the field, dataclasses.field(metadata=interval(...)), and '
                           'call check_bounds(self):\n' + '\n'.join(literal))
    assert _LITERAL_CHECK.search("check_number('gamma', self.gamma, lo=0, hi=1)")  # the pattern does match one


def test_the_shapes_own_checks_name_the_shapes_arguments_and_a_method_names_the_users():
    # public core API: a shape built directly names its own argument; built from a config, the user's parameter
    from composer_sched import CosineAnnealingSchedule

    with pytest.raises(ValueError, match=r'^min_lr=-0.5 is not allowed: min_lr must be in \[0, inf\]\.$'):
        CosineAnnealingSchedule(min_lr=-0.5, max_lr=1, cycle_length=10)
    with pytest.raises(ValueError, match=r'^k_decay=0 is not allowed: k_decay must be in \(0, inf\]\.$'):
        CosineAnnealingSchedule(min_lr=0, max_lr=1, cycle_length=10, k_decay=0)
    with pytest.raises(ValueError, match=r'^alpha_f=-0.5 is not allowed: alpha_f must be in \[0, inf\]\.$'):
        get_method('cosine_annealing').config(alpha_f=-0.5)
    with pytest.raises(ValueError, match=r'^alpha_f=1.5 is not allowed: alpha_f must be in \[0, 1\]\.$'):
        get_method('wsd').config(alpha_f=1.5)
    assert interval(lo=0)['bound'].allowed == 'in [0, inf]'
