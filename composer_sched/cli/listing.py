"""``composer-sched list``: the schedule methods and algorithms (one-line descriptions, parameters, defaults), and
the names a recipe can use (recipes, models, datasets, optimizers, Composer's schedulers and algorithms)."""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable, cast

COMMAND = 'list'
HELP = ('List the schedule methods and algorithms with one-line descriptions, parameters and defaults, and the '
        'bundled recipes and recipe components.')
EPILOG = """examples:
  composer-sched list                   # methods, algorithms, then the recipe names
  composer-sched list wsd sgdr          # only these (methods and algorithms of that name)
  composer-sched list --algorithms      # only the algorithms
  composer-sched list --recipes --components
  composer-sched list --hf --timm       # transformers' and timm's schedule names and what each maps to
"""


def add_arguments(parser):
    parser.add_argument('names', nargs='*', help='only these methods / algorithms')
    parser.add_argument('--methods', action='store_true', help='only the schedule methods')
    parser.add_argument('--algorithms', action='store_true', help='only the algorithms')
    parser.add_argument('--recipes', action='store_true', help='only the bundled recipes')
    parser.add_argument('--components', action='store_true', help='only the models, datasets, optimizers and '
                        "Composer's schedulers and algorithms a recipe can name")
    parser.add_argument('--hf', action='store_true', help="transformers' schedule names (lr_scheduler_type) and "
                        'what each maps to')
    parser.add_argument('--timm', action='store_true', help="timm's schedule names (sched, scheduler classes) and "
                        'what each maps to')


def arg_docs(obj) -> dict[str, str]:
    """``{argument: one-line doc}`` from the ``Args:`` section of ``obj``'s docstring (``a, b: doc`` lines too)."""
    doc = inspect.getdoc(obj) or ''
    m = re.search(r'^Args:\n((?:[ \t]+.*\n?|\n)*)', doc, re.M)
    out: dict[str, str] = {}
    if not m:
        return out
    indent = None
    for line in m.group(1).splitlines():
        if not line.strip():
            continue
        lead = len(line) - len(line.lstrip())
        indent = lead if indent is None else indent
        hit = re.match(r'\s*([\w*]+(?:,\s*[\w*]+)*)\s*(?:\([^)]*\))?:\s*(.*)', line) if lead == indent else None
        if hit:
            text = hit.group(2).strip()
            for name in re.split(r',\s*', hit.group(1)):
                out[name.strip('*')] = text
    return out


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[:width - 3].rstrip() + '...'


def print_method(m) -> None:
    from composer_sched.schedules.registry import REQUIRED

    print(f'{m.name}: {m.summary}')
    for p in m.params:
        default = 'required' if p.default is REQUIRED else f'default {p.default!r}'
        print(f'    {p.name:<22} {default:<22} {p.doc}')


def print_algorithm(name: str, cls) -> None:
    from composer_sched.recipes.components import first_line

    print(f'{name} ({cls.__name__}): {_short(first_line(cls), 100)}')
    docs = arg_docs(cls)
    for pname, p in inspect.signature(cls).parameters.items():
        if pname == 'self' or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = 'required' if p.default is inspect.Parameter.empty else f'default {p.default!r}'
        print(f'    {pname:<22} {default:<22} {_short(docs.get(pname, ""))}')


def run(args) -> int:
    if getattr(args, 'hf', False) or getattr(args, 'timm', False):
        from composer_sched.cli.peer_listing import print_peers

        return print_peers([v for v in ('hf', 'timm') if getattr(args, v)], args.names)
    from composer_sched.adapters.spec import WARMUP_PARAMS
    from composer_sched.algorithms import algorithm_classes
    from composer_sched.schedules.registry import get_method, method_names, methods, suggest

    sections = {k for k in ('methods', 'algorithms', 'recipes', 'components') if getattr(args, k)}
    if not sections:
        sections = {'methods', 'algorithms'} | ({'recipes', 'components'} if not args.names else set())
    algos = algorithm_classes()
    if args.names:
        unknown = [n for n in args.names if n not in method_names() and n not in algos]
        if unknown:
            raise ValueError(f'{unknown[0]!r} is neither a schedule method nor an algorithm'
                             f'{suggest(unknown[0], sorted(set(method_names()) | set(algos)))}.')
    if 'methods' in sections:
        chosen = [get_method(n) for n in args.names if n in method_names()] if args.names else list(methods())
        if chosen:
            print('== schedule methods (recipe: schedulers: [{name: <method>, ...}]; Python: <Class>Scheduler) ==')
            for m in chosen:
                print_method(m)
            print('every method also takes: ' + ', '.join(f'{p.name}={p.default!r}' for p in WARMUP_PARAMS) + '\n')
    if 'algorithms' in sections:
        chosen_algos = {n: c for n, c in algos.items() if not args.names or n in args.names}
        if chosen_algos:
            print('== algorithms (recipe: algorithms: {<name>: {...}}) ==')
            for n, c in chosen_algos.items():
                print_algorithm(n, c)
            print()
    if 'recipes' in sections:
        from composer_sched.recipes import DEFAULT_RECIPE, bundled_recipes

        print(f'== bundled recipes (composer-sched train <name>; default {DEFAULT_RECIPE}) ==')
        print('    ' + '\n    '.join(bundled_recipes()) + '\n')
    if 'components' in sections:
        _print_components()
    return 0


def _print_components() -> None:
    from composer_sched.data import DATASETS
    from composer_sched.models import MODELS
    from composer_sched.recipes.components import (
        LOADER_KEYS,
        _optimizers,
        composer_algorithms,
        composer_schedulers,
        first_line,
    )

    print('== recipe components ==')
    for title, table in (('model', MODELS), ('data', DATASETS)):
        # The tables hold builders of different signatures, which mypy joins to `builtins.function` (not callable
        # to it); they are functions.
        for name, fn in cast('dict[str, Callable[..., Any]]', table).items():
            params = ', '.join(f'{n}={p.default!r}' if p.default is not p.empty else n
                               for n, p in inspect.signature(fn).parameters.items())
            print(f'{title} {name}({params}): {_short(first_line(fn), 90)}')
    print('data (any): ' + ', '.join(f'{k}={v!r}' for k, v in LOADER_KEYS.items()))
    print('optimizer: ' + ', '.join(_optimizers()) + ' (lr required; other arguments as the class takes them)')
    print("Composer's schedulers (composer.<name> when ours has the name): " + ', '.join(composer_schedulers()))
    print("Composer's algorithms (composer.<name> when ours has the name): " + ', '.join(composer_algorithms()))
