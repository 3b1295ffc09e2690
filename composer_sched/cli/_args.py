"""Argument helpers shared by sub-commands: one-line usage errors, ``key=value`` items also after options (the
grammar itself is :mod:`composer_sched.recipes.overrides`)."""
from __future__ import annotations

import argparse

from composer_sched.recipes.overrides import is_override

__all__ = ['OneLineParser', 'TrailingOverrides', 'accept_trailing_overrides']


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line (``PROG: error: ... (see PROG --help)``), exit code 2.

    argparse prints the whole usage block before the error; in a log that buries the one line that matters.
    """

    def error(self, message: str):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


class TrailingOverrides(OneLineParser):
    """A sub-command parser whose ``key=value`` items may also follow the options.

    ``composer-sched sweep my.yaml --workers 2 'schedulers[0].t_cooldown=0.2dur'``: argparse fills a ``nargs='*'``
    positional only where it first occurs, so the items after ``--workers 2`` would be "unrecognized arguments".
    Here they are appended, in order, to the positional named by :attr:`trailing_dest` (set by
    :func:`accept_trailing_overrides`). Anything else left over is still an error.
    """
    trailing_dest = 'overrides'

    def parse_known_args(self, args=None, namespace=None):
        ns, extras = super().parse_known_args(args, namespace)
        items = [e for e in extras if is_override(e)]
        if items:
            setattr(ns, self.trailing_dest, list(getattr(ns, self.trailing_dest, None) or []) + items)
        return ns, [e for e in extras if not is_override(e)]


def accept_trailing_overrides(parser: argparse.ArgumentParser, dest: str = 'overrides') -> argparse.ArgumentParser:
    """Let ``parser`` (a sub-command's) take ``key=value`` / ``~key`` items after its options, into ``dest``.

    Call it in a command's ``add_arguments``; ``dest`` is the ``nargs='*'`` positional that holds the overrides.

    Example:
        >>> p = accept_trailing_overrides(argparse.ArgumentParser(), 'items')
        >>> _ = p.add_argument('items', nargs='*'); _ = p.add_argument('--workers', type=int)
        >>> p.parse_args(['r.yaml', '--workers', '2', 'a.b=1']).items
        ['r.yaml', 'a.b=1']
    """
    parser.__class__ = TrailingOverrides
    assert isinstance(parser, TrailingOverrides)  # for the type checker: the line above made it one
    parser.trailing_dest = dest
    return parser
