"""``composer-sched list``: every registered method with its parameters and defaults."""
from __future__ import annotations

COMMAND = 'list'
HELP = 'List every schedule method with a one-line description, its parameters and their defaults.'
EPILOG = 'examples:\n  composer-sched list\n  composer-sched list wsd sgdr\n'


def add_arguments(parser):
    parser.add_argument('names', nargs='*', help='only these methods')


def run(args) -> int:
    from composer_sched.adapters.spec import WARMUP_PARAMS
    from composer_sched.schedules.registry import REQUIRED, get_method, methods

    chosen = [get_method(n) for n in args.names] if args.names else list(methods())
    for m in chosen:
        print(f'{m.name}: {m.summary}')
        for p in m.params:
            default = 'required' if p.default is REQUIRED else f'default {p.default!r}'
            print(f'    {p.name:<22} {default:<22} {p.doc}')
    print('\nevery method also takes: ' + ', '.join(f'{p.name}={p.default!r}' for p in WARMUP_PARAMS))
    return 0
