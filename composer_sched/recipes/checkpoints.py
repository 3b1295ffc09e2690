"""What a checkpoint says about the run it came from, read from its content, never from its name.

Every Trainer a recipe builds carries a :class:`RecipeStamp` callback. Composer serialises each callback's
``state_dict`` into every checkpoint it writes (``state['callbacks'][<class name>]``: a ``--keep-stable``
checkpoint, a sweep's trunk, ``save_folder``, ``autoresume``), so each of them holds:

- ``fingerprint``: the recipe's whole resolved configuration except its duration (and cosmetic keys: run name,
  progress bar, loggers, where checkpoints go), flattened to key paths (``optimizer.momentum``,
  ``schedulers[0].t_cooldown``), with the seed, the optimizer as built (class and every hyperparameter, defaults
  included) and the training data's identity (the text corpus's SHA-256, :mod:`composer_sched.text_data`);
- the state it was kept at: ``batch`` (batches trained when saved), ``total`` (the batches of the run it belongs
  to) and ``lrs``: the learning rate of every batch trained so far, as applied (group 0).

:func:`read_checkpoint` reads that back and :func:`fingerprint_difference` names the keys that differ, so that
``train --extend-to R --from CKPT`` and a sweep's ``stable/`` folder refuse (or skip) a checkpoint of another
recipe, seed, optimizer or corpus whatever its file is called.
"""
from __future__ import annotations

import json
import math
from typing import Any, Optional

from composer.core import Callback, Event, State
from composer.loggers import Logger

__all__ = ['STAMP', 'RecipeStamp', 'recipe_fingerprint', 'read_checkpoint', 'fingerprint_difference',
           'CheckpointInfo', 'NOT_FINGERPRINTED']

#: The callback's name in ``state['callbacks']`` (Composer keys callbacks by class ``__qualname__``).
STAMP = 'RecipeStamp'
#: Version of the stamp's layout.
STAMP_VERSION = 1
#: Top-level recipe keys left out of the fingerprint: the duration (a continuation changes it), what only names or
#: shows the run, and where checkpoints are written or read (the same run may be saved anywhere).
NOT_FINGERPRINTED = ('max_duration', 'name', 'description', 'run_name', 'progress_bar', 'loggers', 'save_folder',
                     'save_interval', 'save_num_checkpoints_to_keep', 'save_overwrite', 'load_path',
                     'load_weights_only', 'load_ignore_keys', 'autoresume', 'extend', 'variables')


def _flatten(node: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        if not node and prefix:
            out[prefix] = {}
        for k in sorted(node, key=str):
            _flatten(node[k], f'{prefix}.{k}' if prefix else str(k), out)
    elif isinstance(node, (list, tuple)):
        if not node:
            out[prefix] = []
        for i, v in enumerate(node):
            _flatten(v, f'{prefix}[{i}]', out)
    else:
        out[prefix] = _plain(node)


def _plain(v: Any) -> Any:
    """A JSON value that compares the way the recipe meant it (tuples as lists, odd objects as text)."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    try:
        return json.loads(json.dumps(v))
    except (TypeError, ValueError):
        return repr(v)


def _optimizer_fields(recipe: Any) -> dict[str, Any]:
    """The optimizer as the recipe builds it: its class and every hyperparameter (defaults included), so a recipe
    that leaves ``momentum`` out and one that sets it to the default are the same, and SGD is never AdamW."""
    from composer_sched.recipes import components as C

    opt = C.build_optimizer(recipe.path, dict(recipe.to_dict()['optimizer']))
    out: dict[str, Any] = {'optimizer.class': type(opt).__name__}
    for k, v in sorted(opt.defaults.items()):
        if k in ('params', 'initial_lr'):
            continue
        _flatten(v, f'optimizer.{k}', out)
    return out


def recipe_fingerprint(recipe: Any) -> dict[str, Any]:
    """The recipe's fingerprint: its resolved configuration without :data:`NOT_FINGERPRINTED`, flattened to key
    paths, plus the optimizer as built (``optimizer.class``, ``optimizer.<hyperparameter>``), the number of
    processes (``world_size``) and the training data's identity (``data_identity.<key>``: its ``metadata`` except
    where it was read from).

    Two runs with the same fingerprint train the same batches the same way up to their duration.

    Args:
        recipe: a :class:`~composer_sched.recipes.Recipe` (its data is read, once, for the identity).

    Example:
        >>> from composer_sched.recipes import load_recipe
        >>> fp = recipe_fingerprint(load_recipe(overrides=['max_duration=2ep']))
        >>> fp['seed'], fp['optimizer.class'], fp['optimizer.momentum'], 'max_duration' in fp
        (0, 'SGD', 0.9, False)
    """
    cfg = {k: v for k, v in recipe.to_dict().items() if k not in NOT_FINGERPRINTED}
    out: dict[str, Any] = {}
    _flatten(cfg, '', out)
    out = {k: v for k, v in out.items() if not k.startswith('optimizer.') or k == 'optimizer.name'}
    out.update(_optimizer_fields(recipe))
    from composer.utils import dist

    out['world_size'] = int(dist.get_world_size())  # batches per rank, and so every batch, depend on it
    meta = getattr(recipe.datasets()[0], 'metadata', None) or {}
    for k, v in sorted(dict(meta).items()):
        if not str(k).endswith('source'):  # where the file lives is not what it holds
            out[f'data_identity.{k}'] = _plain(v)
    return out


def fingerprint_difference(kept: dict[str, Any], own: dict[str, Any], limit: int = 4) -> list[str]:
    """The keys on which two fingerprints differ, each as ``'key: <kept> in the checkpoint, <own> in the
    recipe'``: the seed, the optimizer's class and name and the data's identity first, then by key; at most
    ``limit`` of them (then ``'... and N more'``); ``[]`` when they agree.

    Example:
        >>> fingerprint_difference({'seed': 1, 'optimizer.momentum': 0.9}, {'seed': 0, 'optimizer.momentum': 0.5})
        ['seed: 1 in the checkpoint, 0 in the recipe', 'optimizer.momentum: 0.9 in the checkpoint, 0.5 in the recipe']
    """
    missing = object()
    other_class = kept.get('optimizer.class') != own.get('optimizer.class')
    # The most telling keys first: another seed, optimizer or corpus explains every other difference.
    first = ('seed', 'optimizer.class', 'optimizer.name')
    keys = sorted(set(kept) | set(own), key=lambda k: (k not in first and not k.startswith('data_identity.'), k))
    diff = []
    for k in keys:
        a, b = kept.get(k, missing), own.get(k, missing)
        if a == b or (isinstance(a, float) and isinstance(b, (int, float)) and a == float(b)):
            continue
        if other_class and k.startswith('optimizer.') and k not in first and (a is missing or b is missing):
            continue  # another optimizer class has other hyperparameters: the class says it
        sa = 'absent' if a is missing else json.dumps(a)
        sb = 'absent' if b is missing else json.dumps(b)
        diff.append(f'{k}: {sa} in the checkpoint, {sb} in the recipe')
    if len(diff) > limit:
        diff = diff[:limit] + [f'... and {len(diff) - limit} more']
    return diff


class CheckpointInfo:
    """A Composer checkpoint as read back: its training ``state`` and what its :class:`RecipeStamp` says.

    Attributes:
        path: the file.
        state: the checkpoint's ``state`` mapping (model, optimizers, timestamp, ...).
        batch: batches trained when it was saved (from its timestamp).
        stamp: the stamp's mapping (``fingerprint``, ``batch``, ``total``, ``lrs``, ``kept``), ``None`` without one.
    """

    def __init__(self, path: str, state: dict, batch: int, stamp: Optional[dict]):
        self.path, self.state, self.batch, self.stamp = path, state, batch, stamp

    @property
    def fingerprint(self) -> Optional[dict]:
        return None if self.stamp is None else self.stamp.get('fingerprint')

    @property
    def total(self) -> Optional[int]:
        """Batches of the run it came from (``None``: unknown)."""
        t = None if self.stamp is None else self.stamp.get('total')
        return t if isinstance(t, int) else None

    @property
    def lrs(self) -> list[float]:
        """The LR of each batch trained before it was saved (group 0), as applied."""
        return [float(v) for v in (self.stamp or {}).get('lrs') or []]

    @property
    def train_loss(self) -> list[float]:
        """The training loss of each batch trained before it was saved (``nan`` where unknown)."""
        return [float(v) for v in (self.stamp or {}).get('train_loss') or []]

    @property
    def is_final(self) -> bool:
        """Saved after the last batch of its run."""
        return self.total is not None and self.batch >= self.total


def read_checkpoint(path: str, what: str = '--from') -> CheckpointInfo:
    """Read the Composer checkpoint at ``path`` and check that it carries a recipe stamp consistent with itself.

    Args:
        path: a file written by Composer with a recipe's Trainer (``--keep-stable``, ``save_folder``, a sweep).
        what: the argument named in errors.

    Raises:
        ValueError: no such file, unreadable or truncated, not a Composer checkpoint (no training state with a
            timestamp, e.g. a file holding only a timestamp), no recipe stamp (written by another program), or a
            stamp that disagrees with the checkpoint's own timestamp or LR.
    """
    import os

    import torch

    if not os.path.isfile(path):
        raise ValueError(f'{what}={path} is not allowed: there is no such file (give a Composer checkpoint, e.g. one '
                         'written by train --keep-stable or save_folder, or kept by a sweep in DIR/stable/).')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:
        raise ValueError(f'{what}={path} is not allowed: it is not a readable Composer checkpoint ({type(e).__name__} '
                         'while reading it: truncated, or another kind of file).') from None
    state = ckpt.get('state') if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        state = {}  # no training state: no timestamp either, refused below
    stamp = state.get('timestamp')
    if isinstance(stamp, dict) and isinstance(stamp.get('Timestamp'), dict):  # how Composer 0.32 nests it
        stamp = stamp['Timestamp']
    if not isinstance(stamp, dict) or not isinstance(stamp.get('batch'), int):
        raise ValueError(f'{what}={path} is not allowed: it is not a Composer checkpoint (no training state with a '
                         'timestamp in it).')
    batch = int(stamp['batch'])
    mine = (state.get('callbacks') or {}).get(STAMP) if isinstance(state.get('callbacks'), dict) else None
    if not isinstance(mine, dict) or not isinstance(mine.get('fingerprint'), dict):
        raise ValueError(f'{what}={path} is not allowed: it carries no recipe fingerprint (it was not written by a '
                         'composer-sched recipe\'s Trainer), so what it continues cannot be checked.')
    if mine.get('batch') != batch or not isinstance(state.get('model'), dict) or not state.get('optimizers'):
        raise ValueError(f'{what}={path} is not allowed: its content is inconsistent (recipe stamp at batch '
                         f'{mine.get("batch")!r}, timestamp at batch {batch}, model and optimizer state '
                         f'{"present" if state.get("model") and state.get("optimizers") else "missing"}).')
    lrs = mine.get('lrs') or []
    if len(lrs) != batch:
        raise ValueError(f'{what}={path} is not allowed: its content is inconsistent (an LR history of {len(lrs)} '
                         f'batches in a checkpoint saved after {batch}).')
    return CheckpointInfo(path, state, batch, mine)


def _current_lr(state: Any) -> Optional[float]:
    for opt in state.optimizers or ():
        for g in opt.param_groups:
            return float(g['lr'])
    return None


class RecipeStamp(Callback):
    """A Composer callback that puts the recipe's fingerprint, the run's length and the LR of every batch into
    every checkpoint the Trainer writes (see the module docstring); :meth:`Recipe.build_trainer
    <composer_sched.recipes.Recipe.build_trainer>` adds one to every Trainer.

    Its ``state_dict`` is ``{'version', 'fingerprint', 'batch', 'total', 'lrs', 'kept', 'train_loss'}`` (the
    training loss of every batch, ``nan`` where the model gave none). Loading a checkpoint
    restores the LR history before it (a resumed or extended run's checkpoints hold the whole history) and keeps
    this run's own fingerprint (the caller compared them before training).

    Args:
        fingerprint: :func:`recipe_fingerprint` of the recipe the Trainer trains.

    Attributes:
        kept: ``{path: batch}`` of checkpoints kept at the end of the stable phase (``--keep-stable``), so that a
            later checkpoint of the run can point to them.
    """

    def __init__(self, fingerprint: dict[str, Any]):
        self.fingerprint = dict(fingerprint)
        self.lrs: list[float] = []
        self.total: Optional[int] = None
        self.batch = 0
        self.kept: dict[str, int] = {}
        self.losses: list[float] = []

    def run_event(self, event: Event, state: State, logger: Logger) -> None:
        if event == Event.FIT_START:
            from composer_sched.recipes.progress import total_batches

            self.total = total_batches(state)
            self.batch = int(state.timestamp.batch)
            del self.lrs[self.batch:]
            del self.losses[self.batch:]
        elif event == Event.BATCH_START:
            lr = _current_lr(state)
            if lr is not None and int(state.timestamp.batch) == len(self.lrs):
                self.lrs.append(lr)
        elif event == Event.BATCH_END:
            self.batch = int(state.timestamp.batch)
            loss = _scalar_loss(state.loss)
            if len(self.losses) == self.batch - 1:
                self.losses.append(loss)

    def state_dict(self) -> dict[str, Any]:
        return {'version': STAMP_VERSION, 'fingerprint': dict(self.fingerprint), 'batch': self.batch,
                'total': self.total, 'lrs': list(self.lrs[:self.batch]), 'kept': dict(self.kept),
                'train_loss': list(self.losses[:self.batch])}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if isinstance(state, dict):
            self.lrs = [float(v) for v in state.get('lrs') or []]
            self.batch = int(state.get('batch') or len(self.lrs))
            self.kept = {**dict(state.get('kept') or {}), **self.kept}
            self.losses = [float(v) for v in state.get('train_loss') or []]


def _scalar_loss(loss: Any) -> float:
    """The batch's training loss as a float (a dict or tuple of losses sums, as Composer's backward does)."""
    try:
        if isinstance(loss, dict):
            return float(sum(float(v) for v in loss.values()))
        if isinstance(loss, (list, tuple)):
            return float(sum(float(v) for v in loss))
        return float(loss)
    except (TypeError, ValueError, RuntimeError):
        return math.nan
