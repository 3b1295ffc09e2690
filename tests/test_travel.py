"""Objects travel (issue 25, item 6): every scheduler, PyTorch scheduler and algorithm the package makes pickles and
unpickles to an equal object that computes the same values, in this process and in a ``spawn`` subprocess (what
multiprocessing, Ray Tune configs and ``torch.save(obj)`` need); and a misspelt keyword is the same ``ValueError``,
naming the closest parameter, whichever face of a method is called."""
from __future__ import annotations

import multiprocessing
import pickle
import warnings

import pytest
import torch

import composer_sched as cs
from composer_sched.adapters.names import algorithm_class
from composer_sched.algorithms import algorithm_classes
from composer_sched.schedules.registry import get_method, method_names

_RUN = ('12ba', None)


def _opt():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)


def objects() -> dict[str, object]:
    """One of everything the package makes, by a label: every method's Composer scheduler (by class and by name),
    PyTorch scheduler and Algorithm, every other algorithm, the product and the functional modifiers."""
    from composer_sched.algorithms.autowu import AutoWUScheduler
    from composer_sched.algorithms.cooldown import cooldown
    from composer_sched.algorithms.warmup import warmup

    out: dict[str, object] = {}
    for m in method_names():
        ex = get_method(m).example
        out[f'{m}/scheduler'] = cs.composer_scheduler(m, **ex)
        out[f'{m}/by_name'] = cs.ComposerScheduler(m, **ex, t_warmup='2ba')
        out[f'{m}/torch'] = cs.ScheduleLR(_opt(), m, 40, steps_per_epoch=10, **ex)
        out[f'{m}/algorithm'] = algorithm_classes()[m](**ex)
    for name, cls in algorithm_classes().items():
        if name not in method_names():
            out[f'{name}/algorithm'] = cls()
    out['product'] = cs.ProductScheduler(cs.WSDScheduler(), cs.SGDRScheduler(t_0='4ba'))
    out['warmup()'] = warmup(cs.CosineAnnealingScheduler(), t_warmup='3ba', shape='sqrt')
    out['cooldown()'] = cooldown(cs.StepScheduler(step_size='4ba'), t_start='6ba', shape='exp', alpha_f=0.1)
    out['core'] = cs.LinearWarmUp(cs.StableDecaySchedule(10, 3), 0.0, 2)
    out['autowu/torch'] = AutoWUScheduler(_opt(), 10, 4)
    return out


def values(obj: object) -> object:
    """What an object computes, so that a copy can be compared by its behaviour too."""
    from composer_sched.algorithms.autowu import AutoWUScheduler
    from composer_sched.algorithms.roles import ScheduleAlgorithm

    if isinstance(obj, torch.optim.lr_scheduler.LRScheduler):
        out = []
        step = (lambda: obj.step(1.0)) if isinstance(obj, AutoWUScheduler) else obj.step  # AutoWU needs the loss
        with warnings.catch_warnings():  # torch's "optimizer.step() overridden" check: its own schedulers' copies too
            warnings.simplefilter('ignore', UserWarning)
            for _ in range(8):
                out.append([g['lr'] for g in obj.optimizer.param_groups])
                obj.optimizer.step()
                step()
        return out
    if isinstance(obj, ScheduleAlgorithm) and obj.schedule_role in ('setter', 'modifier'):
        run = [] if obj.schedule_role == 'setter' else cs.SGDRScheduler(t_0='5ba')
        return cs.preview(run, _RUN[0], algorithms=[obj]).tolist()
    if isinstance(obj, cs.Schedule):
        return obj([0, 1, 5, 9, 12]).tolist()
    if callable(obj) and not isinstance(obj, type) and not hasattr(obj, 'match'):
        return cs.preview(obj, _RUN[0]).tolist()
    return repr(obj)


def _equal(a: object, b: object) -> bool:
    from composer_sched.algorithms.autowu import AutoWUScheduler
    if isinstance(a, AutoWUScheduler):  # a stateful engine: compare what it is and where it stands
        return type(a) is type(b) and a.get_last_lr() == b.get_last_lr() and a.config == b.config
    return a == b


def _child(payload: bytes) -> bytes:
    # In a fresh interpreter (spawn): unpickle, compare with a copy rebuilt there, compute, send back.
    import pickle

    objs = pickle.loads(payload)
    fresh = objects()
    return pickle.dumps({k: (_equal(v, fresh[k]), values(v)) for k, v in objs.items()})


def test_the_list_covers_every_method_and_algorithm():
    labels = set(objects())
    for m in method_names():
        assert {f'{m}/scheduler', f'{m}/torch', f'{m}/algorithm'} <= labels
    for name in algorithm_classes():
        assert f'{name}/algorithm' in labels


def test_everything_pickles_to_an_equal_object_computing_the_same_values():
    for label, obj in objects().items():
        copy = pickle.loads(pickle.dumps(obj))
        assert type(copy) is type(obj), label
        assert _equal(copy, obj), label
        assert values(copy) == values(obj), label


def test_objects_built_from_other_arguments_are_not_equal():
    from composer_sched.algorithms.cooldown import cooldown
    from composer_sched.algorithms.warmup import warmup

    pairs = [(cs.ScaleSchedule(0.5), cs.ScaleSchedule(2.0)), (cs.WSD(), cs.WSD(replace=True)),
             (cs.Warmup(), cs.Warmup(shape='sqrt')), (cs.Cooldown(), cs.Cooldown(alpha_f=0.1)),
             (cs.WSDScheduler(), cs.WSDScheduler(t_cooldown='0.3dur')),
             (cs.WSDScheduler(), cs.ComposerScheduler('wsd')),
             (cs.ScheduleLR(_opt(), 'wsd', 10), cs.ScheduleLR(_opt(), 'wsd', 20)), (cs.AutoWU(), cs.AutoWU(max_lr=2.0)),
             (cs.ProductScheduler(cs.WSDScheduler()), cs.ProductScheduler(cs.SGDRScheduler())),
             (warmup(cs.WSDScheduler(), t_warmup='2ba'), warmup(cs.WSDScheduler(), t_warmup='3ba')),
             (cooldown(cs.WSDScheduler(), t_start='2ba'), cooldown(cs.WSDScheduler(), t_start='3ba'))]
    for a, b in pairs:
        assert a != b and a == pickle.loads(pickle.dumps(a)), (a, b)


@pytest.mark.slow
def test_everything_travels_to_a_spawn_subprocess():
    objs = objects()
    expected = {k: values(pickle.loads(pickle.dumps(v))) for k, v in objs.items()}
    ctx = multiprocessing.get_context('spawn')
    with ctx.Pool(1) as pool:
        got = pickle.loads(pool.apply(_child, (pickle.dumps(objs),)))
    assert sorted(got) == sorted(objs)
    for label, (equal, vals) in got.items():
        assert equal, f'{label}: unpickled in a spawn process, not equal to one built there'
        assert vals == expected[label], label


def _faces(method: str):
    """Every way to build a method, as a function of its keyword arguments."""
    ex = get_method(method).example
    config = get_method(method).config
    yield 'config', lambda **kw: config(**{**ex, **kw})
    yield 'scheduler class', lambda **kw: getattr(cs, cs.adapters.names.scheduler_class(method))(**ex, **kw)
    yield 'composer_scheduler', lambda **kw: cs.composer_scheduler(method, **ex, **kw)
    yield 'ComposerScheduler', lambda **kw: cs.ComposerScheduler(method, **ex, **kw)
    yield 'algorithm', lambda **kw: getattr(cs, algorithm_class(method)[1])(**ex, **kw)
    yield 'ScheduleLR', lambda **kw: cs.ScheduleLR(_opt(), method, 40, **ex, **kw)


@pytest.mark.parametrize('method', method_names())
def test_a_misspelt_keyword_is_the_same_value_error_on_every_face(method):
    first = get_method(method).params[0].name
    typo = first[:-1] + first[-1] * 2 + 'x'  # t_cooldown -> t_cooldownnx: close enough to suggest
    messages = {}
    for face, build in _faces(method):
        with pytest.raises(ValueError) as e:
            build(**{typo: 1})
        messages[face] = str(e.value)
        assert f"unknown parameter {typo!r} (did you mean {first!r}" in str(e.value), (face, str(e.value))
    # One wording, opening with the method's name; the list of parameters is the face's own (a config has no
    # generic warm-up, an Algorithm adds replace).
    assert len({m.split(' (did you mean')[0] for m in messages.values()}) == 1, messages


@pytest.mark.parametrize('name,typo,closest', [('warmup', 'shap', 'shape'), ('cooldown', 't_strat', 't_start'),
                                                ('one_cycle', 'cycle_momentm', 'cycle_momentum')])
def test_a_misspelt_keyword_of_the_modifiers_and_one_cycle_names_the_closest(name, typo, closest):
    with pytest.raises(ValueError, match=rf"unknown parameter '{typo}' \(did you mean '{closest}'"):
        algorithm_classes()[name](**{typo: 1})
