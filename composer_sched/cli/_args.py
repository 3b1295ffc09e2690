"""Argument helpers shared by sub-commands."""
from __future__ import annotations

from typing import Any, Sequence

import yaml

__all__ = ['parse_overrides']


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
