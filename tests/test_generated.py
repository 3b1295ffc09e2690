"""The files ``make gen`` derives from the method registry are fresh, and every registered method has all of them:
its Composer scheduler and Algorithm (explicit signatures matching its definition), entry points, both example
recipes and its docs page."""
from __future__ import annotations

import configparser
import importlib
import inspect
from pathlib import Path

import pytest
import yaml

from composer_sched.adapters import names
from composer_sched.adapters.spec import WARMUP_PARAMS
from composer_sched.schedules.registry import REQUIRED, get_method, method_names
from tools import gen

ROOT = Path(__file__).resolve().parents[1]


def test_generated_files_are_fresh():
    lines = []
    assert gen.main(['--check'], echo=lines.append) == 0, '\n'.join(lines)
    assert not lines


def test_check_names_a_stale_file_and_write_fixes_it(monkeypatch, tmp_path):
    # A registry change that is not regenerated: --check exits 1 naming the file; a write makes it fresh again.
    target = Path('docs/methods.md')
    monkeypatch.setattr(gen, 'ROOT', tmp_path)
    monkeypatch.setattr(gen, 'outputs', lambda: {target: 'new table\n'})
    (tmp_path / 'docs').mkdir()
    (tmp_path / target).write_text('old table\n')
    lines = []
    assert gen.main(['--check'], echo=lines.append) == 1
    assert lines == [f'stale: {target} (run `make gen`)']
    assert (tmp_path / target).read_text() == 'old table\n'  # --check writes nothing
    assert gen.main([], echo=lines.append) == 0 and (tmp_path / target).read_text() == 'new table\n'
    assert gen.main(['--check'], echo=lines.append) == 0


def _signature(cls, skip=()):
    return {n: p.default for n, p in inspect.signature(cls).parameters.items()
            if n not in skip and p.kind != p.VAR_KEYWORD}


def _expected(m, extra=()):
    out = {p.name: inspect.Parameter.empty if p.required else p.default for p in (*m.params, *WARMUP_PARAMS)}
    return {**dict(extra), **{k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}}


def _plain(d):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


@pytest.mark.parametrize('name', method_names())
def test_every_method_has_its_classes_with_the_definitions_signature(name):
    import composer_sched
    from composer_sched.adapters.schedulers import SCHEDULER_CLASSES
    from composer_sched.algorithms import OWN_SETTERS, get_algorithm
    from composer_sched.algorithms.setters import SETTER_CLASSES

    m = get_method(name)
    sched, setter = SCHEDULER_CLASSES[name], SETTER_CLASSES[name]
    assert sched.__name__ == names.scheduler_class(name)
    assert sched.method_name == setter.method == name
    assert get_algorithm(name) is setter
    module, cls_name = names.algorithm_class(name)
    assert setter.__name__ == cls_name and getattr(importlib.import_module(module), cls_name) is setter
    # One object per public name: top level, the algorithms package, the generated modules.
    for obj in (sched, setter):
        assert getattr(composer_sched, obj.__name__) is obj
    # Explicit keyword signatures: exactly the definition's parameters (and the generic warm-up), same defaults.
    assert _plain(_signature(sched)) == _expected(m)
    got = _plain(_signature(setter))
    if name not in OWN_SETTERS:
        assert got == _expected(m, {'replace': False})
    else:  # a hand-written Algorithm (one_cycle's momentum): its signature must still carry the definition's
        assert {k: got.get(k, 'missing') for k in _expected(m, {'replace': False})} == _expected(m, {'replace': False})
    for cls in (sched, setter):
        assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in inspect.signature(cls).parameters.values())
    assert all(p.default is not REQUIRED for p in inspect.signature(sched).parameters.values())


def _entry_points() -> dict[str, dict[str, str]]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'setup.cfg')
    return {g: {ln.split('=')[0].strip(): ln.split('=')[1].strip()
                for ln in cfg['options.entry_points'][g].strip().splitlines()}
            for g in ('llmfoundry_schedulers', 'llmfoundry_algorithms')}


@pytest.mark.parametrize('name', method_names())
def test_every_method_has_entry_points_and_example_recipes(name):
    eps = _entry_points()
    assert eps['llmfoundry_schedulers'][name] == f'{names.SCHEDULERS_MODULE}:{names.scheduler_class(name)}'
    assert eps['llmfoundry_algorithms'][name] == ':'.join(names.algorithm_class(name))
    example = get_method(name).example
    folder = ROOT / gen.RECIPES
    schedule = yaml.safe_load((folder / 'schedules' / f'{name}.yaml').read_text())
    assert schedule['schedulers'] == [{'name': name, **example}]
    algorithm = yaml.safe_load((folder / 'algorithms' / f'{name}.yaml').read_text())
    assert algorithm['schedulers'] == [] and algorithm['algorithms'] == {name: example}


def test_entry_points_list_exactly_the_methods_and_the_folder_algorithms():
    # The old algorithm keys (linear_warmup, linear_cooldown) keep an entry point for one release, to their
    # deprecated names, so an llm-foundry YAML that uses them still loads (with a DeprecationWarning).
    from composer_sched.algorithms import BEHAVIOUR_ALGORITHMS, DEPRECATED_ALGORITHMS, algorithm_names

    eps = _entry_points()
    assert sorted(eps['llmfoundry_schedulers']) == method_names()
    assert sorted(eps['llmfoundry_algorithms']) == sorted([*method_names(), *BEHAVIOUR_ALGORITHMS,
                                                           *DEPRECATED_ALGORITHMS])
    assert sorted(set(eps['llmfoundry_algorithms']) - set(DEPRECATED_ALGORITHMS)) == algorithm_names()
    for old, (ref, _new) in DEPRECATED_ALGORITHMS.items():
        assert eps['llmfoundry_algorithms'][old] == ref


def test_no_two_public_classes_share_a_name():
    # The generated names (WSD, Linear, Step, ...) against every public class of the package's main modules. The
    # convex-bound paper's classes (composer_sched.theory: ConstantSchedule, PiecewiseConstantSchedule, ...) keep
    # the seed's names in their own namespace; tests/test_names.py checks the top level against them.
    seen: dict[str, object] = {}
    for mod in ('composer_sched', 'composer_sched.schedules', 'composer_sched.algorithms',
                'composer_sched.algorithms.setters', 'composer_sched.adapters.schedulers',
                'composer_sched.recipes', 'composer_sched.predict'):
        module = importlib.import_module(mod)
        for n in getattr(module, '__all__', ()):
            obj = getattr(module, n)
            if inspect.isclass(obj):
                assert seen.setdefault(n, obj) is obj, f'{n}: {seen[n]!r} and {obj!r} ({mod})'


@pytest.mark.parametrize('name', method_names())
def test_example_recipes_load_and_both_run_the_same_schedule(name):
    import numpy as np

    from composer_sched.recipes import load_recipe

    as_scheduler = load_recipe(f'schedules/{name}').preview()
    as_algorithm = load_recipe(f'algorithms/{name}').preview()
    np.testing.assert_allclose(as_algorithm, as_scheduler, rtol=1e-12)


def test_the_type_checkers_import_block_lists_every_schedules_module():
    # composer_sched.schedules re-exports its modules at run time; make gen spells the same list out for type
    # checkers, so a new method module is picked up by both without a hand edit.
    current = (ROOT / gen.SCHEDULES_INIT).read_text()
    block = current[current.index(gen.BEGIN):current.index(gen.END)].splitlines()[1:-1]
    assert len(block) >= len(method_names())
    for line in block:
        assert gen.schedules_init(current.replace(line + '\n', '')) == current, line
