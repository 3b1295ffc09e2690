"""``composer-sched list``: the schedule methods and algorithms (one-line descriptions, parameters, defaults), and
the names a recipe can use (recipes, models, datasets, optimizers, Composer's schedulers and algorithms)."""
from __future__ import annotations

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


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[:width - 3].rstrip() + '...'


def print_method(m) -> None:
    from composer_sched.schedules.registry import REQUIRED

    print(f'{m.name}: {m.summary}')
    for p in m.params:
        default = 'required' if p.default is REQUIRED else f'default {p.default!r}'
        print(f'    {p.name:<22} {default:<22} {p.doc}')


def print_algorithm(name: str, entry: dict) -> None:
    """One algorithm as :func:`composer_sched.cli._catalog.algorithm_entry` describes it."""
    print(f'{name} ({entry["class"]}): {_short(entry["summary"], 100)}')
    for pname, default, doc in entry['params']:
        print(f'    {pname:<22} {default:<22} {_short(doc)}')


def _catalog() -> dict:
    """The algorithms and components as ``list`` prints them: from catalog.json (no torch, no Composer), or from
    the classes when the file does not match the registered names."""
    from composer_sched.cli import _catalog

    stored = _catalog.load()
    if stored is not None:
        return stored
    from composer_sched.algorithms import algorithm_classes

    return {'algorithms': {n: _catalog.algorithm_entry(c) for n, c in algorithm_classes().items()},
            'components': None}


def run(args) -> int:
    if getattr(args, 'hf', False) or getattr(args, 'timm', False):
        from composer_sched.cli.peer_listing import print_peers

        return print_peers([v for v in ('hf', 'timm') if getattr(args, v)], args.names)
    from composer_sched.adapters.spec import WARMUP_PARAMS  # the adapters import no Composer: list stays quick
    from composer_sched.schedules.registry import get_method, method_names, methods, suggest

    sections = {k for k in ('methods', 'algorithms', 'recipes', 'components') if getattr(args, k)}
    if not sections:
        sections = {'methods', 'algorithms'} | ({'recipes', 'components'} if not args.names else set())
    catalog = _catalog()
    algos = catalog['algorithms']
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
        from composer_sched.recipes.bundled import DEFAULT_RECIPE, bundled_recipes

        print(f'== bundled recipes (composer-sched train <name>; default {DEFAULT_RECIPE}) ==')
        print('    ' + '\n    '.join(bundled_recipes()) + '\n')
    if 'components' in sections:
        if catalog['components'] is None:
            from composer_sched.cli._catalog import component_lines

            catalog['components'] = component_lines()
        print('\n'.join(catalog['components']))
    return 0
