"""Composer's Trainer reads its own distribution's file list (``RECORD``) at every construction, for a commit hash it
only logs (``composer.utils.collect_env.get_composer_commit_hash``, ~55 ms, most of a tiny Trainer's construction).
The test processes read it once (tests/conftest.py): the installed files do not change during a test run, so every
Trainer still gets the same value."""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def commit_hash_read_once() -> Iterator[None]:
    """Within the block, Composer's commit-hash lookup is computed once and then reused; restored on exit."""
    from composer.utils import collect_env

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(collect_env, 'get_composer_commit_hash', functools.cache(collect_env.get_composer_commit_hash))
        yield
