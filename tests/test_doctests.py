"""Every docstring example (``>>>``) in the package runs and prints what it shows.

One test per module rather than ``--doctest-modules`` in addopts: a module that fails to import then fails its own
test instead of interrupting the whole session at collection, the examples run inside the suite's conftest (headless
matplotlib, hypothesis profile), in a temporary directory (examples that save a plot or a recipe leave nothing in the
checkout), and test helper scripts under tests/ are not imported as doctest modules. The option flags are pytest's
``doctest_optionflags`` from setup.cfg, so ``pytest --doctest-modules composer_sched`` runs the same examples alike.
"""
import doctest
import importlib
import re
from pathlib import Path

import pytest

import composer_sched

ROOT = Path(composer_sched.__file__).resolve().parent


def _modules():
    # from the files, not pkgutil.walk_packages: that imports each package and silently drops one that fails to
    names = []
    for path in ROOT.rglob('*.py'):
        parts = path.relative_to(ROOT.parent).with_suffix('').parts
        if parts[-1] != '__main__':  # running it would start the CLI
            names.append('.'.join(parts[:-1] if parts[-1] == '__init__' else parts))
    return sorted(names)


def _source(name):
    module_path = ROOT.joinpath(*name.split('.')[1:])
    return (module_path / '__init__.py' if module_path.is_dir() else module_path.with_suffix('.py')).read_text()


# Every module, with or without examples: an import error fails here too.
MODULES = _modules()
EXAMPLE = re.compile(r'^\s*>>> (?!\s*#)', re.M)  # a comment-only `>>> # ...` line is no example to doctest
# Modules whose examples earlier per-package doctest tests required to exist (their guarantee moved here).
MUST_SHOW = {f'composer_sched.predict{m}' for m in ('', '._shape', '._runs', '._law', '.momentum', '.multipower')} | {
    'composer_sched.lr_find.suggest', 'composer_sched.lr_find.finder',
    'composer_sched.algorithms.autowu.rollback', 'composer_sched.algorithms.autowu.engine'}


def _flags(config):
    flags = 0
    for name in config.getini('doctest_optionflags'):
        flags |= doctest.OPTIONFLAGS_BY_NAME[name]
    return flags


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples_run(name, pytestconfig, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=_flags(pytestconfig))
    tests = [t for t in doctest.DocTestFinder().find(module, name) if t.examples]
    report = []
    for test in sorted(tests, key=lambda t: t.name):
        runner.run(test, out=report.append)
    assert runner.failures == 0, ''.join(report)
    # An example the finder cannot see (in a comment, under a name re-exported from elsewhere) never runs: every
    # `>>>` in the source must belong to a docstring doctest finds.
    shown, found = len(EXAMPLE.findall(_source(name))), sum(len(t.examples) for t in tests)
    assert found >= shown, f'{name}: {shown} examples in the source, {found} in docstrings doctest finds'
    assert found > 0 or name not in MUST_SHOW, f'{name} lost its examples'


def test_the_modules_that_must_show_examples_exist():
    assert MUST_SHOW <= set(MODULES), MUST_SHOW - set(MODULES)
