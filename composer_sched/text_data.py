"""Byte-level text for the tiny language model: Python's own documentation, or any UTF-8 file.

The default corpus is ``pydoc_data.topics`` (the text behind ``help('for')``, about 0.46 MB of English that ships
with every CPython), so nothing is downloaded. Tokens are the text's UTF-8 bytes (a vocabulary of 256), which
tokenises any file the same way. The text differs between Python versions, so each dataset carries its SHA-256
(:attr:`TextBlocks.metadata`), which the recipes log as hyperparameters of every run (:class:`LogMetadata`).

Split: the byte stream is cut into ``segment``-byte pieces and a seeded permutation sends ``val_fraction`` of them
to validation. Blocks never cross a piece's end, so no byte of a validation block (input or target) is in any
training block.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any, Optional, Union

import numpy as np
import torch
from composer.core import Callback
from torch.utils.data import Dataset

__all__ = ['VOCAB_SIZE', 'stdlib_text', 'read_text_bytes', 'split_starts', 'TextBlocks', 'text_datasets', 'text',
           'LogMetadata']

#: byte-level tokens: every UTF-8 text maps to ids 0..255
VOCAB_SIZE = 256


def stdlib_text() -> str:
    """The text of ``pydoc_data.topics`` (Python's help topics), topics in sorted order, separated by blank lines.

    Example:
        >>> len(stdlib_text()) > 100_000
        True
    """
    from pydoc_data.topics import topics

    return '\n\n'.join(topics[k].strip() for k in sorted(topics)) + '\n'


def read_text_bytes(path: Union[str, os.PathLike, None] = None) -> tuple[bytes, str]:
    """The UTF-8 bytes of the file at ``path`` (``None``: :func:`stdlib_text`) and a name for the source.

    Raises:
        ValueError: ``path`` is not a readable file, or its content is not UTF-8.
    """
    if path is None:
        import sys

        return stdlib_text().encode('utf-8'), f'pydoc_data.topics (Python {sys.version.split()[0]})'
    from composer_sched.paths import require_kind

    # A folder, a FIFO or /dev/zero is named as what it is (reading a FIFO or a device would block or never end).
    full = require_kind(path, 'path', 'a file', 'give a UTF-8 text file, or leave path null for the bundled Python '
                        'documentation')
    with open(full, 'rb') as f:
        data = f.read()
    try:
        data.decode('utf-8')
    except UnicodeDecodeError as e:
        raise ValueError(f'path={os.fspath(path)!r} is not allowed: it is not UTF-8 text (byte {e.start}: '
                         f'{e.reason}).') from None
    return data, full


def split_starts(n_bytes: int, context: int, val_fraction: float = 0.1, split_seed: int = 0,
                 segment: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets of the training and validation blocks of a ``n_bytes`` stream.

    The stream is cut into ``ceil(n_bytes / segment)`` pieces; a permutation drawn from ``split_seed`` sends
    ``max(1, round(val_fraction * pieces))`` of them to validation. Piece ``[a, b)`` holds blocks starting at
    ``a, a + context, ...`` while ``start + context + 1 <= b`` (a block is ``context`` inputs plus the next byte).

    Args:
        n_bytes: length of the stream.
        context: tokens per block, ``>= 1``.
        val_fraction: share of pieces held out, in ``(0, 1)``.
        split_seed: seed of the permutation (the same seed gives the same split).
        segment: bytes per piece, ``> context``.

    Returns:
        ``(train_starts, val_starts)``, sorted int64 arrays.

    Raises:
        ValueError: an argument out of range, or fewer than two pieces (nothing to hold out).

    Example:
        >>> tr, va = split_starts(10_000, context=64, segment=1000)
        >>> len(tr), len(va)
        (135, 15)
    """
    if not isinstance(context, int) or isinstance(context, bool) or context < 1:
        raise ValueError(f'context={context!r} is not allowed: context must be an integer >= 1.')
    if not isinstance(segment, int) or isinstance(segment, bool) or segment <= context:
        raise ValueError(f'segment={segment!r} is not allowed: segment must be an integer > context ({context}).')
    if not 0 < val_fraction < 1:
        raise ValueError(f'val_fraction={val_fraction!r} is not allowed: val_fraction must be in (0, 1).')
    pieces = -(-n_bytes // segment)
    if pieces < 2:
        raise ValueError(f'segment={segment!r} is not allowed: the text has {n_bytes} bytes, fewer than two segments '
                         'to split into train and validation; use a smaller segment or a longer text.')
    n_val = min(pieces - 1, max(1, int(round(val_fraction * pieces))))
    is_val = np.zeros(pieces, dtype=bool)
    is_val[np.random.default_rng(split_seed).permutation(pieces)[:n_val]] = True
    out: tuple[list, list] = ([], [])
    for p in range(pieces):
        a, b = p * segment, min((p + 1) * segment, n_bytes)
        out[int(is_val[p])].append(np.arange(a, b - context, context, dtype=np.int64))
    return tuple(np.concatenate(o) if o else np.zeros(0, np.int64) for o in out)  # type: ignore[return-value]


class TextBlocks(Dataset):
    """``(input, target)`` pairs of byte ids: ``tokens[s:s + context]`` and ``tokens[s + 1:s + context + 1]`` for
    each start ``s``.

    Attributes:
        metadata: the corpus's ``source``, ``sha256``, ``bytes`` and the split's arguments (logged with each run).
    """

    def __init__(self, tokens: torch.Tensor, starts: np.ndarray, context: int, metadata: Optional[dict] = None):
        self.tokens, self.context = tokens, context
        self.starts = torch.as_tensor(starts, dtype=torch.long)
        self.metadata = dict(metadata or {})

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = int(self.starts[i])
        block = self.tokens[s:s + self.context + 1].long()
        return block[:-1], block[1:]


def text_datasets(path: Union[str, os.PathLike, None] = None, context: int = 64, val_fraction: float = 0.1,
                  split_seed: int = 0, segment: int = 4096) -> tuple[TextBlocks, TextBlocks]:
    """Train and validation :class:`TextBlocks` of a text (see :func:`split_starts` for the split).

    Args:
        path: a UTF-8 text file; ``None``: Python's bundled documentation (:func:`stdlib_text`).
        context: tokens (bytes) per block, ``>= 1``; the model's context must be at least this.
        val_fraction: share of the text held out, in ``(0, 1)``.
        split_seed: seed of the split (independent of the run's seed, so runs compare on one split).
        segment: bytes per piece of the split, ``> context``.

    Raises:
        ValueError: a missing or non-UTF-8 file, an argument out of range, or a text too short to split.

    Example:
        >>> train, val = text_datasets(context=64)
        >>> x, y = train[0]
        >>> x.shape, bool((x[1:] == y[:-1]).all())
        (torch.Size([64]), True)
    """
    data, source = read_text_bytes(path)
    if isinstance(segment, int) and len(data) <= segment:  # name the file: it is what the user gave
        raise ValueError(f'path={os.fspath(path) if path is not None else None!r} is not allowed: its {len(data)} '
                         f'bytes are fewer than two segments of {segment} to split into train and validation; use '
                         'a longer text or a smaller segment.')
    train, val = split_starts(len(data), context, val_fraction, split_seed, segment)
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f'path={os.fspath(path) if path is not None else None!r} is not allowed: {len(data)} bytes '
                         f'give {len(train)} training and {len(val)} validation blocks of context {context}; use a '
                         'longer text or a smaller context.')
    tokens = torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())
    meta = {'data/source': source, 'data/sha256': hashlib.sha256(data).hexdigest(), 'data/bytes': len(data),
            'data/context': context, 'data/val_fraction': val_fraction, 'data/split_seed': split_seed,
            'data/segment': segment}
    return TextBlocks(tokens, train, context, meta), TextBlocks(tokens, val, context, meta)


def text(path: Optional[str] = None, context: int = 64, val_fraction: float = 0.1, split_seed: int = 0,
         segment: int = 4096) -> tuple[TextBlocks, TextBlocks]:
    """Byte-level language-model blocks of a UTF-8 file, or of Python's documentation when ``path`` is null (the
    recipe dataset ``text``; arguments as :func:`text_datasets`)."""
    return text_datasets(path, context, val_fraction, split_seed, segment)


class LogMetadata(Callback):
    """A Composer callback that logs ``metadata`` as hyperparameters when the run starts (the corpus hash of
    :class:`TextBlocks`, so a run records which text it trained on).

    Example:
        >>> cb = LogMetadata({'data/sha256': 'ab12'})
    """

    def __init__(self, metadata: dict[str, Any]):
        self.metadata = dict(metadata)

    def fit_start(self, state, logger) -> None:
        logger.log_hyperparameters(dict(self.metadata))
