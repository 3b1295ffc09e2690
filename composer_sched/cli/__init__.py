"""The ``composer-sched`` command line.

Each module in this package that defines ``COMMAND``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``
is a sub-command (``EPILOG`` adds examples to its ``--help``); adding a command is adding one module.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Optional, Sequence

__all__ = ['main', 'build_parser']

EXAMPLES = """examples:
  composer-sched list                      # every schedule method, its parameters and defaults
  composer-sched plot wsd --max-duration 1000ba -o wsd.png t_cooldown=0.3dur
  composer-sched demo                      # the bundled default run
"""


def _commands():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith('_'):
            continue
        mod = importlib.import_module(f'{__name__}.{info.name}')
        if hasattr(mod, 'COMMAND') and hasattr(mod, 'run'):
            yield mod


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='composer-sched', description='Learning-rate schedule methods for Composer and PyTorch.',
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for mod in _commands():
        p = sub.add_parser(mod.COMMAND, help=mod.HELP, description=mod.HELP, epilog=getattr(mod, 'EPILOG', None),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 a run failed, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, '_run', None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except ValueError as e:  # bad input: one clear line, no traceback
        print(f'composer-sched {args.command}: error: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
