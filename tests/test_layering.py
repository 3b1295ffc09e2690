"""The package's imports flow one way (issue 14): read from the source, so a lazy import inside a function counts.

Layers, lowest first (a module may import its own layer or a lower one):

    schedules (the pure core), paths and chart < adapters < algorithms < previewing
    < recipes (with models, data, text_data, tinylm) < sweep, theory, predict, lr_find
    < cli, docs, and the package facade ``composer_sched/__init__``

and besides: the core and ``predict`` load neither torch nor Composer, nothing imports ``composer_sched.cli`` but the
cli package itself (the ``composer-sched`` entry point in setup.cfg names it as a string), and no two modules import
each other, directly or round a loop.

What counts as an import: every ``import``/``from`` statement anywhere in a module (module level, inside functions,
inside ``try``), and ``importlib.import_module('literal')``. Relative imports are resolved; ``from pkg import name``
points at the submodule ``pkg.name`` when there is one, else at ``pkg``.

Imports under ``if TYPE_CHECKING:`` never execute: they are exempt from the torch/Composer check and from the circle
check (they cannot load torch nor leave a module half-initialised), but they still count for the layers and the cli
rule, because a lower layer that names a higher layer's types depends on it all the same.

Packages and circles: ``pkg/__init__`` importing its own submodules to re-export them is not a circle (a package
imports what it re-exports; importing ``pkg.mod`` executes ``pkg/__init__`` first, but that implicit step is not an
edge). A submodule importing its own package's ``__init__`` back (``from . import X``, ``from pkg import X`` inside
``pkg/mod.py``) is one: it only works while ``__init__`` happens to bind ``X`` before importing ``mod``, so it is
reported; import the sibling module that defines ``X`` instead.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import composer_sched

ROOT = Path(composer_sched.__file__).resolve().parent
PKG = 'composer_sched'

# Top-level names under composer_sched -> layer (index in LAYERS). '' is the package facade composer_sched/__init__.
LAYERS = [
    ('core', ['schedules', 'paths', 'chart']),  # paths: output and data path checks, a leaf every command uses;
    # chart: the PNG line charts (numpy and zlib), drawn without matplotlib
    ('adapters', ['adapters']),
    ('algorithms', ['algorithms']),
    ('previewing', ['previewing']),
    ('recipes', ['recipes', 'models', 'data', 'text_data', 'tinylm']),
    ('applications', ['sweep', 'theory', 'predict', 'lr_find']),
    ('entry points', ['cli', 'docs', '']),
]
LAYER_OF = {top: i for i, (_, tops) in enumerate(LAYERS) for top in tops}
PURE = ('schedules', 'predict', 'paths', 'chart')  # load neither of:
HEAVY = ('torch', 'composer')


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (dotted); an external one is its top-level name
    line: int
    lazy: bool  # inside a function
    type_only: bool  # under `if TYPE_CHECKING:`

    def __str__(self):
        tags = ', '.join(t for t, on in (('lazy', self.lazy), ('TYPE_CHECKING', self.type_only)) if on)
        return f'{self.source} -> {self.target} (line {self.line}{", " + tags if tags else ""})'


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _is_package(module: str) -> bool:
    return (ROOT.parent.joinpath(*module.split('.')) / '__init__.py').is_file()


def _exists(module: str) -> bool:
    path = ROOT.parent.joinpath(*module.split('.'))
    return path.with_suffix('.py').is_file() or (path / '__init__.py').is_file()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or (
        isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING')


def _resolve(source: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ''
    base = source.split('.') if _is_package(source) else source.split('.')[:-1]
    base = base[:len(base) - (node.level - 1)]
    return '.'.join(base + ([node.module] if node.module else []))


def _targets(source: str, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = _resolve(source, node)
        if not base.startswith(PKG):
            return [base]
        return [f'{base}.{a.name}' if _exists(f'{base}.{a.name}') else base for a in node.names]
    if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and ((isinstance(node.func, ast.Attribute) and node.func.attr == 'import_module')
                 or (isinstance(node.func, ast.Name) and node.func.id in ('import_module', '__import__')))):
        return [node.args[0].value]
    return []


def _imports_in(source: str, text: str) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool, type_only: bool) -> None:
        for target in _targets(source, node):
            internal = target == PKG or target.startswith(PKG + '.')
            found.append(Import(source, target if internal else target.split('.')[0], node.lineno, lazy, type_only))
        for field, value in ast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            for child in children:
                if not isinstance(child, ast.AST):
                    continue
                in_function = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                guarded = type_only or (isinstance(node, ast.If) and field == 'body' and _is_type_checking(node.test))
                visit(child, in_function, guarded)

    visit(ast.parse(text, source), False, False)
    return found


def _graph() -> tuple[list[str], list[Import]]:
    paths = sorted(ROOT.rglob('*.py'))
    found = {i for p in paths for i in _imports_in(_module_name(p), p.read_text())}
    return [_module_name(p) for p in paths], sorted(found, key=str)


MODULES, IMPORTS = _graph()
INTERNAL = [i for i in IMPORTS if i.target == PKG or i.target.startswith(PKG + '.')]


def _top(module: str) -> str:
    return module.split('.')[1] if module != PKG else ''


def _layer(module: str) -> int:
    return LAYER_OF[_top(module)]


def _report(title: str, edges) -> str:
    return title + ':\n  ' + '\n  '.join(sorted(map(str, edges)))


def test_the_walk_sees_the_package():
    # guards the checks below against passing on an empty graph
    assert {'composer_sched.schedules', 'composer_sched.cli', 'composer_sched.recipes.recipe'} <= set(MODULES)
    assert any(i.lazy for i in INTERNAL) and any(i.target == 'torch' for i in IMPORTS)
    assert {'torch', 'composer'} <= set(_loads()['composer_sched.algorithms.driver'])  # the chain finder sees loads
    unresolved = [i for i in INTERNAL if not _exists(i.target)]
    assert not unresolved, _report('imports of modules that do not exist', unresolved)


def test_the_import_reader_resolves_and_tags_imports():
    # the reader on known code: relative imports from a package and from a module, submodule vs name, the tags
    text = """
from typing import TYPE_CHECKING
import torch.nn as nn
from . import registry, MAX_GROWTH
from .._base import x
if TYPE_CHECKING:
    from composer_sched.recipes import Recipe
def f():
    from composer_sched.schedules.cosine import CosineAnnealingSchedule
    import importlib
    return importlib.import_module('composer_sched.previewing')
"""
    got = {(i.target, i.lazy, i.type_only) for i in _imports_in('composer_sched.schedules', text)}
    assert got == {('typing', False, False), ('torch', False, False),
                   ('composer_sched.schedules.registry', False, False), ('composer_sched.schedules', False, False),
                   ('composer_sched._base', False, False), ('composer_sched.recipes', False, True),
                   ('composer_sched.schedules.cosine', True, False), ('importlib', True, False),
                   ('composer_sched.previewing', True, False)}
    from_module = {i.target for i in _imports_in('composer_sched.schedules.cosine', 'from ._base import Schedule\n'
                                                                                    'from .. import previewing')}
    assert from_module == {'composer_sched.schedules._base', 'composer_sched.previewing'}


def test_every_module_has_a_layer():
    missing = sorted({_top(m) for m in MODULES} - set(LAYER_OF))
    assert not missing, f'assign a layer in tests/test_layering.py LAYERS to: {missing}'


def _loads() -> dict[str, dict[str, list[Import]]]:
    """Per module, the heavy packages executing its import loads, each with the shortest chain of imports to it."""
    succ: dict[str, list[Import]] = {m: [] for m in MODULES}
    for m in MODULES:  # importing a.b.c executes a/__init__ and a/b/__init__ first
        for k in range(1, m.count('.') + 1):
            succ[m].append(Import(m, '.'.join(m.split('.')[:k]), 0, False, False))
    for i in IMPORTS:
        if not i.lazy and not i.type_only:
            succ[i.source].append(i)
    result = {}
    for start in MODULES:
        chains: dict[str, list[Import]] = {start: []}
        queue, found = [start], {}
        while queue:
            module = queue.pop(0)
            for i in succ[module]:
                if i.target in HEAVY:
                    found.setdefault(i.target, chains[module] + [i])
                elif i.target in succ and i.target not in chains:
                    chains[i.target] = chains[module] + [i]
                    queue.append(i.target)
        result[start] = found
    return result


def test_the_pure_layers_load_neither_torch_nor_composer():
    loads = _loads()
    problems = []
    for i in IMPORTS:
        if _top(i.source) not in PURE or i.type_only:
            continue
        if i.target in HEAVY:
            problems.append(str(i))
        elif i.target in loads:  # a lazy import of an impure module loads torch when the function runs
            problems += [f'{i} -> ... ({" ; ".join(map(str, chain))})' for chain in loads[i.target].values()]
    for m in MODULES:  # the parent packages run first (composer_sched/__init__ for every module)
        if _top(m) in PURE:
            problems += [f'{m}: {" ; ".join(map(str, chain))}' for chain in loads[m].values()]
    if problems:
        pytest.fail('schedules/ and predict/ must load neither torch nor Composer:\n  '
                    + '\n  '.join(sorted(set(problems))), pytrace=False)


# What `composer-sched list`, `plot <method>` and `bound` import (tests/cli/test_cli_start.py runs them and checks
# sys.modules; this names the import chain when a module-level import breaks it).
LIGHT = ('composer_sched.adapters.durations', 'composer_sched.adapters.spec', 'composer_sched.adapters.composer',
         'composer_sched.adapters.product', 'composer_sched.previewing', 'composer_sched.recipes',
         'composer_sched.recipes.overrides', 'composer_sched.recipes.bundled', 'composer_sched.algorithms',
         'composer_sched.theory', 'composer_sched.theory.runs', 'composer_sched.cli', 'composer_sched.chart')


def test_the_modules_the_quick_commands_use_load_neither_torch_nor_composer():
    loads = _loads()
    problems = [f'{m}: {" ; ".join(map(str, chain))}' for m in LIGHT for chain in loads[m].values()]
    if problems:
        pytest.fail('these modules are imported by composer-sched --help/list/plot/bound, which must answer without '
                    'torch or Composer (import them inside the function that needs them):\n  '
                    + '\n  '.join(sorted(problems)), pytrace=False)


def test_nothing_imports_the_cli():
    bad = [i for i in INTERNAL if _top(i.target) == 'cli' and _top(i.source) != 'cli']
    if bad:
        pytest.fail(_report('only the cli package and the composer-sched entry point may import composer_sched.cli',
                            bad), pytrace=False)


def test_only_the_console_script_names_the_cli():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT.parent / 'setup.cfg')
    groups = {group: [line.strip() for line in value.splitlines() if line.strip()]
              for group, value in cfg['options.entry_points'].items()}
    naming = {(group, line) for group, lines in groups.items() for line in lines if 'composer_sched.cli' in line}
    assert naming == {('console_scripts', 'composer-sched = composer_sched.cli:main')}, naming


def test_no_module_imports_a_higher_layer():
    bad = [i for i in INTERNAL if _layer(i.target) > _layer(i.source)]
    names = ', '.join(f'{n}={i}' for i, (n, _) in enumerate(LAYERS))
    if bad:
        pytest.fail(_report(f'imports from a lower layer to a higher one (layers {names})', bad), pytrace=False)


def _strongly_connected(nodes, edges) -> list[list[str]]:
    """Tarjan's algorithm, iterative; the components with more than one module (or a self-import)."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(succ[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in succ[node]:
                    components.append(sorted(component))
    return components


def test_no_import_circles():
    edges = [i for i in INTERNAL if not i.type_only and i.source != i.target]
    components = _strongly_connected(MODULES, {(i.source, i.target) for i in edges})
    lines = []
    for component in sorted(components):
        members = set(component)
        lines.append('circle ' + ' , '.join(component) + ':')
        lines += [f'    {i}' for i in sorted(edges, key=str) if i.source in members and i.target in members]
    if components:
        pytest.fail('import circles (each component with the imports that close it):\n  ' + '\n  '.join(lines),
                    pytrace=False)


def test_the_circle_finder_finds_circles():
    # the check above passes on a graph without circles only because the finder works
    nodes = ['a', 'b', 'c', 'd', 'e']
    found = _strongly_connected(nodes, {('a', 'b'), ('b', 'c'), ('c', 'a'), ('c', 'd'), ('e', 'e')})
    assert sorted(found) == [['a', 'b', 'c'], ['e']]
    assert _strongly_connected(nodes, {('a', 'b'), ('b', 'c'), ('a', 'c')}) == []
