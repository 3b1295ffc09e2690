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

__all__ = ['main', 'build_parser', 'RunFailed', 'one_line']

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


class RunFailed(Exception):
    """Training (or another run) failed after its inputs were accepted: one line, exit code 1 (not 2)."""


def build_parser() -> argparse.ArgumentParser:
    from composer_sched.cli._args import OneLineParser

    parser = OneLineParser(
        prog='composer-sched', description='Learning-rate schedule methods for Composer and PyTorch.',
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=OneLineParser)
    for mod in _commands():
        p = sub.add_parser(mod.COMMAND, help=mod.HELP, description=mod.HELP, epilog=getattr(mod, 'EPILOG', None),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def one_line(error: BaseException) -> str:
    """An exception as one line: its message (lines joined by '; '), with the type for anything not a plain user
    error (``ValueError`` and ``OSError`` messages already say what is wrong)."""
    if isinstance(error, MemoryError):
        return ('out of memory' + (f': {error}' if str(error) else '') + '; use a shorter duration or fewer items')
    if isinstance(error, OSError) and error.strerror:
        where = f': {error.filename!r}' if error.filename is not None else ''
        return f'{error.strerror}{where}'
    text = '; '.join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, (ValueError, RunFailed)) and text:
        return text
    return f'{type(error).__name__}: {text}' if text else type(error).__name__


def _closed_stdout() -> None:
    # The reader went away (`composer-sched list | head`): point stdout at /dev/null so the interpreter's final
    # flush does not raise a second BrokenPipeError on the way out.
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or already closed
        pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit code: 0 ok, 1 a run failed, 2 bad input or environment, 130 interrupted.

    Every error is one line on stderr (``composer-sched COMMAND: error: ...``), never a traceback; set
    ``COMPOSER_SCHED_TRACEBACK=1`` to see the traceback of one.
    """
    import os

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error, already printed as one line (2)
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    if not getattr(args, '_run', None):
        parser.print_help()
        return 2
    prog = f'composer-sched {args.command}'
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f'{prog}: interrupted', file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except BrokenPipeError:
        _closed_stdout()
        try:
            print(f'{prog}: error: the output was closed before everything was written (broken pipe)',
                  file=sys.stderr)
        except OSError:
            pass
        return 2
    except Exception as e:  # one clear line, no traceback: the user's input, or the environment, or the run
        if os.environ.get('COMPOSER_SCHED_TRACEBACK'):
            raise
        code = 1 if isinstance(e, RunFailed) else 2
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            _closed_stdout()
        print(f'{prog}: error: {one_line(e)}', file=sys.stderr)
        return code


if __name__ == '__main__':
    sys.exit(main())
