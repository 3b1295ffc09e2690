"""The bundled recipes: package data in ``composer_sched/recipes/yamls``, read only through :mod:`importlib.resources`.

Every read of a bundled recipe goes through this module, so a wheel, an editable install and a zipped install all
find the same files (the repository's top-level ``yamls`` is a link here, for browsing).

Example:
    >>> from composer_sched.recipes.bundled import bundled_recipes, bundled_text
    >>> 'digits_cnn' in bundled_recipes() and 'schedules/wsd' in bundled_recipes()
    True
    >>> 'max_duration' in bundled_text('digits_cnn')
    True
"""
from __future__ import annotations

import posixpath
from importlib import resources
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # importlib.resources.abc is Python 3.11+; the package supports 3.10
    from importlib.resources.abc import Traversable

__all__ = ['bundled_root', 'bundled_recipes', 'bundled_file', 'bundled_text', 'DEFAULT_RECIPE']

#: the bundled default: the small CNN on scikit-learn's digits
DEFAULT_RECIPE = 'digits_cnn'

_PACKAGE = 'composer_sched.recipes'
_FOLDER = 'yamls'


def bundled_root() -> Traversable:
    """The folder of bundled recipes (a ``Traversable``: a real folder in a checkout or a wheel install)."""
    return resources.files(_PACKAGE).joinpath(_FOLDER)


def _walk(node: Traversable, prefix: str) -> list[str]:
    out: list[str] = []
    for child in node.iterdir():
        if child.is_dir():
            out += _walk(child, f'{prefix}{child.name}/')
        elif child.name.endswith('.yaml'):
            out.append(prefix + child.name[: -len('.yaml')])
    return out


def bundled_recipes() -> list[str]:
    """Names of the bundled recipes, sorted, as :func:`~composer_sched.recipes.load_recipe` accepts them
    (``'digits_cnn'``, ``'schedules/wsd'``: the path under the recipes folder, ``/``-separated, without ``.yaml``).

    Raises:
        FileNotFoundError: the recipes folder is missing (a broken install).
    """
    root = bundled_root()
    if not root.is_dir():
        raise FileNotFoundError(f'the bundled recipes are missing from the package {_PACKAGE} (folder {_FOLDER}/).')
    return sorted(_walk(root, ''))


def bundled_file(name: str) -> Optional[Traversable]:
    """The bundled recipe called ``name`` (``'digits_cnn'``, ``'schedules/wsd'``, with or without ``.yaml``), or
    ``None`` when there is none. ``..`` moves up within the recipes folder (``'algorithms/../digits_cnn'``, as a
    ``base:`` entry relative to a bundled recipe), never out of it; an absolute path is never a bundled name.

    Example:
        >>> bundled_file('algorithms/../digits_cnn').name, bundled_file('../digits_cnn')
        ('digits_cnn.yaml', None)
    """
    text = name.replace('\\', '/')
    if text.startswith('/'):
        return None
    parts = posixpath.normpath(text).split('/')
    if not parts or parts[0] in ('..', '.', ''):
        return None
    if not parts[-1].endswith('.yaml'):
        parts[-1] += '.yaml'
    node = bundled_root()
    for p in parts:
        node = node.joinpath(p)
    return node if node.is_file() else None


def bundled_text(name: str) -> str:
    """The text of the bundled recipe ``name`` (see :func:`bundled_file`); ``'README'`` is the recipes' guide.

    Raises:
        FileNotFoundError: no bundled recipe has that name.
    """
    node = bundled_root().joinpath('README.md') if name == 'README' else bundled_file(name)
    if node is None or not node.is_file():
        raise FileNotFoundError(f'no bundled recipe {name!r}; bundled recipes: {", ".join(bundled_recipes())}.')
    return node.read_text(encoding='utf-8')
