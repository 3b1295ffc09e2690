"""Output paths checked before any work: every file a command will write is probed up front.

A run that can only fail at its end (a checkpoint under a file, a read-only folder, a PNG path with another
extension) loses everything it computed. So each command calls these before its first batch: the path is
normalised to what will really be written (``-o out`` becomes ``out.png``, as matplotlib would write it), its
folder is created when missing, and a probe file is created and removed next to it, the one test that covers
permissions, read-only mounts, full quotas and a file standing where a folder should be.

No torch, no Composer: the lowest layer, usable from every command.
"""
from __future__ import annotations

import os
import tempfile
from typing import Optional, Sequence, Union

__all__ = ['check_writable_file', 'check_writable_dir', 'png_path', 'path_kind', 'require_kind', 'IMAGE_SUFFIXES']

#: the formats a matplotlib figure may be written in (its Agg backend writes these without extra packages): the
#: LR finder's plot. The LR curve and the bound figure are PNG only (:mod:`composer_sched.chart` draws them).
IMAGE_SUFFIXES = ('.png', '.pdf', '.svg')

PathLike = Union[str, 'os.PathLike[str]']


def _no_nul(text: str, option: str) -> None:
    if '\x00' in text:  # the OS cannot name such a file; os functions raise a bare "embedded null byte"
        raise ValueError(f'{option}={text!r} is not allowed: a path cannot contain a NUL character.')


def _given(path: PathLike, option: str, what: str) -> tuple[str, str, str]:
    """``(text, shown, full)`` of a path a user gave: as given, as an error shows it (quoted when empty or padded
    with spaces), and ``~``-expanded; a ``ValueError`` naming ``option`` when it is empty (asking for ``what``) or
    holds a NUL character."""
    text = os.fspath(path)
    shown = repr(text) if not text or text != text.strip() else text
    if not text:
        raise ValueError(f'{option}={shown} is not allowed: give {what}.')
    _no_nul(text, option)
    return text, shown, os.path.expanduser(text)


def _probe(folder: str, option: str, shown: str) -> None:
    """Create and remove a probe file in ``folder``; a ``ValueError`` naming ``option`` when it cannot be."""
    try:
        fd, probe = tempfile.mkstemp(prefix='.composer-sched-probe-', dir=folder)
    except OSError as e:
        raise ValueError(f'{option}={shown} is not allowed: {folder or "."} cannot be written '
                         f'({e.strerror or e}); give a path in a folder you can write.') from None
    os.close(fd)
    os.unlink(probe)


def _nearest_existing(path: str) -> str:
    """The longest prefix of ``path`` that exists, cut at separators and resolved as the OS would (``afile/..`` does
    not exist when ``afile`` is a file, though ``abspath`` would fold it away)."""
    probe = path or '.'
    while not os.path.exists(probe):
        parent = os.path.dirname(probe.rstrip(os.sep)) or '.'
        if parent == probe:
            break
        probe = parent
    return probe


def _make_folder(folder: str, option: str, shown: str) -> None:
    """Create ``folder`` (and its parents) or say which part of it is in the way."""
    probe = _nearest_existing(folder)  # the deepest part that exists must be a folder
    if os.path.exists(probe) and not os.path.isdir(probe):
        raise ValueError(f'{option}={shown} is not allowed: {probe} is a file, not a folder; give a path in a '
                         'folder.')
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise ValueError(f'{option}={shown} is not allowed: its folder {folder} cannot be created '
                         f'({e.strerror or e}); give a path in a folder you can write.') from None


def check_writable_file(path: PathLike, option: str, *, exist_ok: bool = True,
                        suffixes: Optional[Sequence[str]] = None) -> str:
    """Check, before any work, that a file can be written at ``path``; returns the path that will be written.

    The folder is created when missing; a probe file is created and removed in it (permissions, read-only mounts,
    a full disk). Nothing is left behind but the folder.

    Args:
        path: the file to be written (``~`` is expanded).
        option: how the user gave it (``'--save-weights'``), named in the error.
        exist_ok: ``False`` refuses a path that already exists (a file never overwritten).
        suffixes: the allowed extensions (``None``: any).

    Raises:
        ValueError: ``path`` is empty or a folder, exists with ``exist_ok=False``, has another extension than
            ``suffixes``, lies under a file, or its folder cannot be created or written.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> check_writable_file(os.path.join(d, 'sub', 'w.pt'), '--save-weights') == os.path.join(d, 'sub', 'w.pt')
        True
        >>> check_writable_file(d, '--save-weights')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: --save-weights=... is not allowed: it is a folder; give a file path, e.g. .../model.pt.
    """
    text, shown, full = _given(path, option, 'a file path')
    if os.path.isdir(full) or text.endswith(('/', os.sep)) or os.path.basename(full) in ('.', '..'):
        example = 'plot.png' if suffixes else 'model.pt'
        raise ValueError(f'{option}={shown} is not allowed: it is a folder; give a file path, e.g. '
                         f'{os.path.join(text, example)}.')
    if suffixes is not None:
        ext = os.path.splitext(full)[1].lower()
        if ext not in suffixes:
            which = f'the extension {ext!r}' if ext else 'no extension'
            raise ValueError(f'{option}={shown} is not allowed: {which} is not a format it can write; give a file '
                             f'ending in {", ".join(suffixes)}.')
    if os.path.lexists(full) and not exist_ok:
        raise ValueError(f'{option}={shown} is not allowed: the file exists; delete it or give another path.')
    if os.path.exists(full) and not os.path.isfile(full):
        raise ValueError(f'{option}={shown} is not allowed: it exists and is not a regular file.')
    folder = os.path.dirname(full) or '.'  # not abspath: it folds 'afile/..' away, the OS does not
    _make_folder(folder, option, shown)
    if os.path.isfile(full) and not os.access(full, os.W_OK):
        raise ValueError(f'{option}={shown} is not allowed: the file exists and is read-only.')
    _probe(folder, option, shown)
    try:
        name_max = os.pathconf(folder, 'PC_NAME_MAX')
    except (OSError, ValueError):
        name_max = 255
    if len(os.fsencode(os.path.basename(full))) > name_max:  # the probe's short name fits where this one cannot
        raise ValueError(f'{option}={shown} is not allowed: its file name is longer than the {name_max} bytes the '
                         'file system allows.')
    return full


def png_path(path: PathLike, option: str, suffixes: Sequence[str] = ('.png',)) -> str:
    """A plot's output path as it will be written: a path with no extension gets ``.png`` (the path reported is
    then the real file), checked writable (:func:`check_writable_file`).

    Args:
        suffixes: the extensions the plot can be written in: ``.png`` (default), or :data:`IMAGE_SUFFIXES` for a
            matplotlib figure.

    Raises:
        ValueError: see :func:`check_writable_file`; an extension other than those of ``suffixes``.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> os.path.basename(png_path(os.path.join(d, 'curve'), '-o'))
        'curve.png'
    """
    text = os.fspath(path)
    full = os.path.expanduser(text)
    if text and not os.path.isdir(full) and not text.endswith(('/', os.sep)) and not os.path.splitext(full)[1] \
            and os.path.basename(full) not in ('.', '..'):
        text += '.png'
    return check_writable_file(text, option, suffixes=suffixes)


def check_writable_dir(path: PathLike, option: str, *, create: bool = True) -> str:
    """Check, before any work, that ``path`` is (or can be created as) a folder this process can write in.

    Args:
        path: the folder (``~`` is expanded).
        option: how the user gave it (``'--out'``), named in the error.
        create: create the folder now (default); ``False`` leaves a missing folder missing and probes the nearest
            folder above it that exists (where it would be created).

    Raises:
        ValueError: ``path`` is empty or a file, lies under a file, or cannot be created or written.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> check_writable_dir(os.path.join(d, 'runs'), '--out') == os.path.join(d, 'runs')
        True
    """
    text, shown, full = _given(path, option, 'a folder')
    if os.path.exists(full) and not os.path.isdir(full):
        raise ValueError(f'{option}={shown} is not allowed: it is an existing file; give a folder.')
    if create or os.path.isdir(full):
        _make_folder(full, option, shown)
        _probe(full, option, shown)
        return full
    above = _nearest_existing(os.path.dirname(full.rstrip(os.sep)) or '.')
    if not os.path.isdir(above):
        raise ValueError(f'{option}={shown} is not allowed: {above} is a file, not a folder; give a path in a '
                         'folder.')
    _probe(above, option, shown)
    return full


def path_kind(path: PathLike) -> str:
    """What is at ``path``, in words: ``'a file'``, ``'a folder'``, ``'a named pipe (FIFO)'``, ``'a character
    device'``, ``'a block device'``, ``'a socket'``, ``'a broken symbolic link'``, or ``'nothing'`` (``~``
    expanded).

    Example:
        >>> path_kind('/dev/null'), path_kind('/'), path_kind('/no/such/thing')
        ('a character device', 'a folder', 'nothing')
    """
    import stat

    full = os.path.expanduser(os.fspath(path))
    try:
        mode = os.stat(full).st_mode
    except (OSError, ValueError):
        return 'a broken symbolic link' if os.path.islink(full) else 'nothing'
    for test, name in ((stat.S_ISREG, 'a file'), (stat.S_ISDIR, 'a folder'), (stat.S_ISFIFO, 'a named pipe (FIFO)'),
                       (stat.S_ISCHR, 'a character device'), (stat.S_ISBLK, 'a block device'),
                       (stat.S_ISSOCK, 'a socket')):
        if test(mode):
            return name
    return 'a special file'


def require_kind(path: PathLike, key: str, want: str, hint: str = '') -> str:
    """``path`` expanded, when it is ``want`` (``'a file'`` or ``'a folder'``); else a ``ValueError`` saying what
    it is instead (a folder, a FIFO, ``/dev/zero``: never "no such file" for something that exists).

    Args:
        path: the path the user gave.
        key: its name in the message (``'path'``, ``'--from'``).
        want: ``'a file'`` or ``'a folder'``.
        hint: what to give instead, appended to the message.

    Raises:
        ValueError: ``path`` is missing or is something else than ``want``.

    Example:
        >>> require_kind('/dev/zero', 'path', 'a file')
        Traceback (most recent call last):
        ...
        ValueError: path='/dev/zero' is not allowed: it is a character device, not a file.
    """
    _no_nul(os.fspath(path), key)
    full = os.path.expanduser(os.fspath(path))
    kind = path_kind(full)
    if kind == want:
        return full
    what = f'it is {kind}, not {want}'
    if kind == 'nothing':
        what = f'there is no such {want[2:]}'
        parent = os.path.dirname(os.path.abspath(full))
        while parent and not os.path.exists(parent) and os.path.dirname(parent) != parent:
            parent = os.path.dirname(parent)
        if os.path.exists(parent) and not os.path.isdir(parent):
            what += f' ({parent} is {path_kind(parent)}, not a folder)'
    raise ValueError(f'{key}={os.fspath(path)!r} is not allowed: {what}' + (f' ({hint}).' if hint else '.'))
