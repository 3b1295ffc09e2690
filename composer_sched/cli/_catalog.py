"""What ``composer-sched list`` prints about the algorithms and the recipe components, kept in ``catalog.json`` so
that ``list`` answers without importing torch or Composer (the classes it describes live in modules that load both).

The file is generated (``make gen`` runs ``python -m composer_sched.cli._catalog``) from the very classes, and
``tests/cli/test_cli_start.py`` fails when it differs from what they say now. ``list`` falls back to reading the
classes (slow, but right) when the file does not cover the methods and algorithms registered in the running code.
"""
from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any, Callable, Optional, cast

from composer_sched.recipes.components import first_line

__all__ = ['PATH', 'build', 'load', 'algorithm_entry', 'component_lines', 'arg_docs']

PATH = Path(__file__).with_name('catalog.json')


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


def algorithm_entry(cls) -> dict[str, Any]:
    """An algorithm class as ``list`` shows it: its name, summary, and ``[argument, default, doc]`` rows."""
    docs = arg_docs(cls)
    rows = []
    for pname, p in inspect.signature(cls).parameters.items():
        if pname == 'self' or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = 'required' if p.default is inspect.Parameter.empty else f'default {p.default!r}'
        rows.append([pname, default, docs.get(pname, '')])
    return {'class': cls.__name__, 'summary': first_line(cls), 'params': rows}


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3].rstrip() + '...'


def component_lines() -> list[str]:
    """The ``== recipe components ==`` section of ``list``: models, datasets, loader keys, optimizers, and
    Composer's schedulers and algorithms a recipe can name (imports torch and Composer)."""
    from composer_sched.data import DATASETS
    from composer_sched.models import MODELS
    from composer_sched.recipes.components import LOADER_KEYS, _optimizers, composer_algorithms, composer_schedulers

    lines = ['== recipe components ==']
    for title, table in (('model', MODELS), ('data', DATASETS)):
        # The tables hold builders of different signatures, which mypy joins to `builtins.function` (not callable
        # to it); they are functions.
        for name, fn in cast('dict[str, Callable[..., Any]]', table).items():
            params = ', '.join(f'{n}={p.default!r}' if p.default is not p.empty else n
                               for n, p in inspect.signature(fn).parameters.items())
            lines.append(f'{title} {name}({params}): {_short(first_line(fn), 90)}')
    lines.append('data (any): ' + ', '.join(f'{k}={v!r}' for k, v in LOADER_KEYS.items()))
    lines.append('optimizer: ' + ', '.join(_optimizers()) + ' (lr required; other arguments as the class takes them)')
    lines.append("Composer's schedulers (composer.<name> when ours has the name): " + ', '.join(composer_schedulers()))
    lines.append("Composer's algorithms (composer.<name> when ours has the name): " + ', '.join(composer_algorithms()))
    return lines


def build() -> dict[str, Any]:
    """The catalog from the classes themselves (imports torch and Composer)."""
    from composer_sched.algorithms import BEHAVIOUR_ALGORITHMS, algorithm_classes
    from composer_sched.schedules.registry import method_names

    return {'methods': list(method_names()), 'behaviour_algorithms': sorted(BEHAVIOUR_ALGORITHMS),
            'algorithms': {name: algorithm_entry(cls) for name, cls in algorithm_classes().items()},
            'components': component_lines()}


def _text(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, indent=1, ensure_ascii=False) + '\n'


def load() -> Optional[dict[str, Any]]:
    """The stored catalog, or ``None`` when it is missing, unreadable, or made for other registered names than the
    running code's (a method or algorithm added since ``make gen``): the caller then reads the classes."""
    from composer_sched.algorithms import BEHAVIOUR_ALGORITHMS
    from composer_sched.schedules.registry import method_names

    try:
        catalog = json.loads(PATH.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    if not isinstance(catalog, dict) or catalog.get('methods') != list(method_names()) \
            or catalog.get('behaviour_algorithms') != sorted(BEHAVIOUR_ALGORITHMS):
        return None
    return catalog


def write(path: Path = PATH) -> bool:
    """Write the catalog; returns whether the file changed."""
    text = _text(build())
    old = path.read_text(encoding='utf-8') if path.exists() else None
    if old != text:
        path.write_text(text, encoding='utf-8')
    return old != text


if __name__ == '__main__':
    print(f'{"wrote" if write() else "unchanged"} {PATH}')
