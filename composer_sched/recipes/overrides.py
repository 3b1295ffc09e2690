"""The one ``[RECIPE] key=value ...`` grammar, for every sub-command and the library (below the CLI).

* an **item** is ``key=value`` (the value is YAML, read as omegaconf reads a recipe file: ``1e-3`` is a number,
  ``${variables.lr}`` stays an interpolation, an empty value is ``null``) or ``~key`` (remove ``key``); a key is
  dotted, with ``[i]`` for list items (``schedulers[0].alpha_f``);
* an **argument list** is ``[NAME] item ...`` groups: a name (a recipe file, a bundled recipe, a method) followed by
  its items. :func:`split_recipe_args` reads the one-group form every recipe command takes;
  :func:`group_items` the several-group form (``composer-sched bound wsd t_cooldown=0.2 cosine``).

A word is an item when it has ``=`` (or starts with ``~``), does not start with ``-`` (``--out=x`` is an option)
and is not an existing file (``my=run.yaml`` is a recipe).
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Optional, Sequence, cast

__all__ = ['Override', 'parse_override', 'parse_value', 'parse_overrides', 'is_override', 'split_recipe_args',
           'group_items']


@dataclasses.dataclass(frozen=True)
class Override:
    """One item: ``key`` (as written), ``value`` (parsed) and ``remove`` (a ``~key`` item, no value)."""
    key: str
    value: Any = None
    remove: bool = False
    text: str = ''


def parse_value(text: str) -> Any:
    """A value as written after ``=``: YAML read the way a recipe file is read (omegaconf's reader).

    Example:
        >>> [parse_value(v) for v in ('1e-3', '0.3dur', '[1, 2]', '', '${variables.lr}')]
        [0.001, '0.3dur', [1, 2], None, '${variables.lr}']
    """
    plain = _plain_value(text)
    if plain is not _NOT_PLAIN:  # what omegaconf reads it as, without importing it (composer-sched bound answers
        return plain             # at once; tests/recipes/test_overrides.py compares the two readers)
    from omegaconf import OmegaConf

    # from_dotlist builds a DictConfig, which always converts to a dict
    return cast(dict, OmegaConf.to_container(OmegaConf.from_dotlist([f'v={text}']), resolve=False))['v']


_NOT_PLAIN = object()
_INT = re.compile(r'[-+]?(?:0|[1-9][0-9]*)')
_FLOAT = re.compile(r'[-+]?[0-9]+(?:\.[0-9]*(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)')
_TIME = re.compile(r'[0-9]+(?:\.[0-9]+)?(?:dur|ba|ep|tok|sp)')
_WORD = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
_YAML_WORDS = {'y', 'n', 'yes', 'no', 'true', 'false', 'on', 'off', 'null'}  # booleans and null in YAML 1.1


def _plain_value(text: str) -> Any:
    """The value of the common simple spellings (a decimal integer or float, a Composer time such as ``0.2dur``, a
    plain word), exactly as omegaconf's YAML reader gives them; anything else is ``_NOT_PLAIN``."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _TIME.fullmatch(text) or (_WORD.fullmatch(text) and text.lower() not in _YAML_WORDS):
        return text
    return _NOT_PLAIN


def parse_override(item: Any) -> Override:
    """One ``key=value`` or ``~key`` item.

    Raises:
        ValueError: not a string, no ``=``, an empty key, or a value that is not YAML; the message quotes the item.

    Example:
        >>> parse_override('schedulers[0].alpha_f=0.1')
        Override(key='schedulers[0].alpha_f', value=0.1, remove=False, text='schedulers[0].alpha_f=0.1')
        >>> parse_override('~algorithms.ema').remove
        True
    """
    if not isinstance(item, str):
        raise ValueError(f'override {item!r} is not allowed: write key=value.')
    if item.startswith('~'):
        key = item[1:].strip()
        if not key:
            raise ValueError(f'override {item!r} is not allowed: write ~key to remove a key.')
        return Override(key, None, True, item)
    key, sep, value = item.partition('=')
    key = key.strip()
    if not sep or not key:
        raise ValueError(f'override {item!r} is not allowed: write key=value (or ~key to remove).')
    try:
        parsed = parse_value(value)
    except Exception as e:  # omegaconf's YAML errors: one line naming the item
        raise ValueError(f'override {item!r} is not allowed: its value is not YAML '
                         f'({str(e).splitlines()[0] if str(e) else type(e).__name__}).') from None
    return Override(key, parsed, False, item)


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``['t_cooldown=0.3dur', 'alpha_f=0.1']`` -> ``{'t_cooldown': '0.3dur', 'alpha_f': 0.1}`` (later items win).

    Raises:
        ValueError: an item that is not ``key=value`` (removals ``~key`` have no meaning here).

    Example:
        >>> parse_overrides(['t_cooldown=0.3dur', 'alpha_f=1e-2'])
        {'t_cooldown': '0.3dur', 'alpha_f': 0.01}
    """
    out = {}
    for item in items:
        o = parse_override(item)
        if o.remove:
            raise ValueError(f'override {item!r} is not allowed here: write key=value.')
        out[o.key] = o.value
    return out


def is_override(item: str) -> bool:
    """``key=value`` or ``~key`` (a removal), not an option (``--out=x`` stays an option) and not an existing file.

    Example:
        >>> [is_override(s) for s in ('a.b=1', '~algorithms.wsd', '--out=x', 'r.yaml')]
        [True, True, False, False]
    """
    return (isinstance(item, str) and not item.startswith('-') and ('=' in item or item.startswith('~'))
            and not os.path.isfile(item))


def group_items(items: Sequence[str]) -> list[tuple[Optional[str], tuple[str, ...]]]:
    """``[NAME] item ... [NAME item ...]`` -> ``[(name, items), ...]``; a first group without a name has ``None``.

    Example:
        >>> group_items(['wsd', 't_cooldown=0.2', 'cosine'])
        [('wsd', ('t_cooldown=0.2',)), ('cosine', ())]
        >>> group_items(['max_duration=2ep'])
        [(None, ('max_duration=2ep',))]
    """
    groups: list[tuple[Optional[str], list[str]]] = []
    for item in items:
        if is_override(item):
            if not groups:
                groups.append((None, []))
            groups[-1][1].append(item)
        else:
            groups.append((item, []))
    return [(name, tuple(rest)) for name, rest in groups]


def split_recipe_args(items: Sequence[Optional[str]]) -> tuple[Optional[str], tuple[str, ...]]:
    """``[RECIPE] [key=value ...]`` -> ``(recipe or None, overrides)``: the arguments of every recipe command.

    ``None`` entries (an omitted optional positional) are skipped.

    Raises:
        ValueError: a second name, or a name after the overrides (one line naming it).

    Example:
        >>> split_recipe_args(['algorithms/wsd', 'max_duration=2ep'])
        ('algorithms/wsd', ('max_duration=2ep',))
        >>> split_recipe_args([None, 'seed=1'])
        (None, ('seed=1',))
    """
    groups = group_items([i for i in items if i is not None])
    if len(groups) > 1:
        extra = groups[1][0]
        raise ValueError(f'{extra!r} is not allowed here: give one RECIPE first, then key=value overrides.')
    return groups[0] if groups else (None, ())
