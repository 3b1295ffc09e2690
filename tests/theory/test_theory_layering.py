"""The convex-bound toolkit reads only the core: every import in composer_sched/theory, lazy ones included.

The one exception is theory/runs.py, the bound of a Composer *run*: it replays a registered method's Composer
scheduler (the preview, over the adapters) or a recipe, imported when called. Nothing in theory imports the CLI.
"""
import ast
import pathlib
import subprocess
import sys

import pytest

import composer_sched.theory

THEORY = pathlib.Path(composer_sched.theory.__file__).parent
CORE = ('composer_sched.schedules', 'composer_sched.theory')
RUNS_ALSO = ('composer_sched.adapters.composer', 'composer_sched.previewing', 'composer_sched.recipes')


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


@pytest.mark.parametrize('path', sorted(THEORY.glob('*.py')), ids=lambda p: p.name)
def test_theory_imports_the_core_only(path):
    allowed = CORE + (RUNS_ALSO if path.name == 'runs.py' else ())
    ours = [m for m in _imports(path) if m.split('.')[0] == 'composer_sched']
    assert ours, path.name if path.name != '__init__.py' else 'the package re-exports its modules'
    bad = [m for m in ours if not any(m == a or m.startswith(a + '.') for a in allowed)]
    assert not bad, f'{path.name} imports {bad}'
    third_party = {m.split('.')[0] for m in _imports(path)} - {'composer_sched'}
    assert not third_party & {'torch', 'composer'}, f'{path.name} imports {third_party}'


def test_importing_theory_loads_nothing_beyond_the_package_root_but_itself():
    code = ('import sys, composer_sched; before = set(sys.modules); '
            'import composer_sched.theory as t; t.WSDSchedule(steps=11).compute_rate(T=10); '
            "print(sorted(m for m in set(sys.modules) - before if not m.startswith('composer_sched.theory') "
            "and (m.split('.')[0] in ('composer_sched', 'torch', 'composer'))))")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '[]'
