"""``key=value`` override items, as the CLI and the sweep read them (below the CLI, so library code can use them)."""
from __future__ import annotations

from typing import Any, Sequence

import yaml

__all__ = ['parse_overrides', 'is_override']


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``['t_cooldown=0.3dur', 'alpha_f=0.1']`` -> ``{'t_cooldown': '0.3dur', 'alpha_f': 0.1}`` (YAML scalars).

    Raises:
        ValueError: an item without ``=``.
    """
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise ValueError(f'override {item!r} is not allowed: write key=value.')
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ''
    return out


def is_override(item: str) -> bool:
    """``key=value`` or ``~key`` (a removal), and not an option (``--out=x`` stays an option).

    Example:
        >>> [is_override(s) for s in ('a.b=1', '~algorithms.wsd', '--out=x', 'r.yaml')]
        [True, True, False, False]
    """
    return not item.startswith('-') and ('=' in item or item.startswith('~'))
