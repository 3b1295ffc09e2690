"""AutoWU's rollback: CPU copies of the model weights and optimizer state taken at healthy warm-up tests, restored
when the divergence rule fires (the engine decides which, :attr:`AutoWUEngine.restore_step`).

A blow-up on a fast ramp often ruins the weights in the very step the loss was lowest, so decaying from a good LR
is not enough: the run must also go back to weights from before the blow-up. The engine names a snapshot step at
each healthy test (:attr:`AutoWUEngine.snapshot_due`); :class:`Snapshots` holds the copies for those steps (at most
:data:`~composer_sched.algorithms.autowu.engine.SNAPSHOTS`, so memory is at most that many copies of the model and
the optimizer state, in host memory) and drops them when the warm-up ends.
"""
from __future__ import annotations

from typing import Any, Optional

import torch

__all__ = ['cpu_copy', 'Snapshots']


def cpu_copy(obj: Any) -> Any:
    """A deep copy of nested dicts/lists/tuples with every tensor detached, cloned and moved to the CPU.

    Example:
        >>> import torch
        >>> t = torch.ones(2); c = cpu_copy({'a': [t]}); _ = t.add_(1); c['a'][0].tolist()
        [1.0, 1.0]
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().to('cpu', copy=True)
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(v) for v in obj)
    return obj


class Snapshots:
    """Weights and optimizer state by step, kept in step with the engine's ``snapshot_steps``.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(2, 1); opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> snaps = Snapshots(); snaps.take(10, model, opt, keep=[10])
        >>> w = model.weight.detach().clone(); _ = model.weight.data.add_(5.0)
        >>> snaps.restore(10, model, opt); bool(torch.equal(model.weight, w))
        True
    """

    def __init__(self):
        self.saved: dict[int, dict[str, Any]] = {}

    def take(self, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer, keep: list[int]) -> None:
        """Copy the weights and optimizer state as they are after ``step``; keep only the steps in ``keep``."""
        self.saved[int(step)] = {'model': cpu_copy(model.state_dict()), 'optimizer': cpu_copy(optimizer.state_dict())}
        self.prune(keep)

    def prune(self, keep: list[int]) -> None:
        self.saved = {s: v for s, v in self.saved.items() if s in set(keep)}

    def restore(self, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Load the copy taken after ``step`` into ``model`` and ``optimizer`` (their LRs are the caller's to set).

        Raises:
            KeyError: no copy for ``step``.
        """
        snap = self.saved[int(step)]
        model.load_state_dict(snap['model'])
        # a fresh copy: torch may adopt CPU tensors as the live optimizer state and update them in place
        optimizer.load_state_dict(cpu_copy(snap['optimizer']))

    def state_dict(self) -> dict[int, Any]:
        return dict(self.saved)

    def load_state_dict(self, state: Optional[dict], keep: list[int]) -> None:
        self.saved = {int(s): v for s, v in (state or {}).items()}
        self.prune(keep)


def follow(engine: Any, snaps: Snapshots, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> Optional[int]:
    """After ``engine.observe``: take the snapshot the engine asked for, or restore the one it chose at a divergence
    switch of this very step; free the copies once the warm-up is over. Returns the step restored, if any.

    The engine's choices depend only on the (all-reduced) losses and rank 0's broadcast decision, so every rank
    takes and restores its own copy at the same steps."""
    restored = None
    if engine.snapshot_due:
        snaps.take(engine.step, model, optimizer, engine.snapshot_steps)
    elif engine.switch_step == engine.step and engine.restore_step is not None:
        if engine.restore_step in snaps.saved:
            snaps.restore(engine.restore_step, model, optimizer)
            restored = engine.restore_step
        else:  # pragma: no cover - only a state edited by hand gets here (snapshots are checkpointed with it)
            import warnings
            warnings.warn(f'AutoWU chose the snapshot of step {engine.restore_step} to restore, which is not held; '
                          'continuing from the current weights.')
    if engine.phase != 'warmup' and snaps.saved:
        snaps.saved = {}
    return restored
