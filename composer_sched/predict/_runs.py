"""One observed training run: its per-batch LR and what was logged along the way."""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

from composer_sched.predict._shape import ScheduleShape, analyse_schedule

__all__ = ['Run']

History = Tuple[np.ndarray, np.ndarray]
TRAIN_BINS = 200  # a per-batch training loss is averaged into this many windows before fitting (noise and speed)
DIVERGED = 1.5    # a loss above this many times the history's first value: the run diverged
RISING = 0.02     # a last loss more than 2% above the lowest of the last quarter: the run ends non-monotone


def _history(name: str, value, length: int, positive: bool) -> Optional[History]:
    if value is None:
        return None
    try:
        steps, values = value
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a pair (steps, values) of equal-length arrays, got {type(value).__name__}')
    steps, values = np.asarray(steps), np.asarray(values, dtype=float)
    if steps.ndim != 1 or steps.shape != values.shape or steps.size == 0:
        raise ValueError(f'{name}: steps and values must be non-empty 1-D arrays of equal length, got shapes '
                         f'{steps.shape} and {values.shape}')
    if not np.all(np.equal(np.mod(steps, 1), 0)) or steps.min() < 0 or steps.max() > length:
        raise ValueError(f'{name}: steps must be whole batch counts in [0, {length}] (the loss after that many '
                         f'batches), got range [{steps.min()}, {steps.max()}]')
    if not np.all(np.isfinite(values)) or (positive and values.min() <= 0):
        raise ValueError(f'{name}: values must be finite{" and > 0" if positive else ""}')
    steps = steps.astype(np.int64)
    order = np.argsort(steps, kind='stable')
    return steps[order], values[order]


@dataclasses.dataclass(frozen=True, eq=False)  # arrays: compare runs by identity
class Run:
    """An observed run: the LR of every batch, and its loss history.

    Steps count batches trained: the loss at step ``s`` was measured after batches ``0 .. s-1``, which trained
    with ``lr[0] .. lr[s-1]`` (``composer_sched.preview`` gives that array exactly for a Composer run).

    Args:
        lr: per-batch LR or LR multiplier, warm-up + stable + monotone cool-down (see ``analyse_schedule``).
        eval_loss: ``(steps, losses)`` of an evaluation every k batches. The laws are fitted on it when given.
        train_loss: ``(steps, losses)`` of the training loss (e.g. every batch); used only without ``eval_loss``,
            averaged into 200 windows first.
        final_loss: the run's final evaluation loss when it is measured differently from ``eval_loss`` (e.g. on
            a larger evaluation set); predictions are then also given on that scale (see ``LawFit.predict``).
        eval_metric: ``(steps, values)`` of a secondary metric (e.g. accuracy) measured with ``eval_loss``;
            only values at steps that also have an ``eval_loss`` are used.
        name: a label for messages.

    Raises:
        ValueError: a bad schedule (see ``analyse_schedule``), a history that is not (steps, values) of whole
            steps in ``[0, len(lr)]`` with finite values (losses ``> 0``), or no loss history at all.

    Example:
        >>> import numpy as np
        >>> lr = np.r_[np.ones(800), np.linspace(1, 0, 201)[1:]]
        >>> run = Run(lr, eval_loss=([200, 400, 600, 800, 1000], [3.0, 2.8, 2.7, 2.65, 2.5]))
        >>> run.points()[0].tolist(), run.shape.cooldown_start
        ([200, 400, 600, 800, 1000], 800)
    """
    lr: np.ndarray
    eval_loss: Optional[History] = None
    train_loss: Optional[History] = None
    final_loss: Optional[float] = None
    eval_metric: Optional[History] = None
    name: str = 'run'

    def __post_init__(self):
        shape = analyse_schedule(self.lr, name=f'{self.name}.lr')
        object.__setattr__(self, 'lr', np.asarray(self.lr, dtype=float))
        object.__setattr__(self, 'shape', shape)
        for field, positive in (('eval_loss', True), ('train_loss', True), ('eval_metric', False)):
            object.__setattr__(self, field, _history(f'{self.name}.{field}', getattr(self, field), shape.length,
                                                     positive))
        if self.eval_loss is None and self.train_loss is None:
            raise ValueError(f'{self.name}: give eval_loss=(steps, losses) and/or train_loss=(steps, losses)')
        if self.final_loss is not None and not (np.isfinite(self.final_loss) and self.final_loss > 0):
            raise ValueError(f'{self.name}.final_loss must be finite and > 0, got {self.final_loss!r}')

    shape: ScheduleShape = dataclasses.field(init=False, repr=False)

    def points(self) -> History:
        """The (steps, losses) the laws are fitted on: ``eval_loss``, else ``train_loss`` averaged in windows.

        A window's mean is placed at the window's mean step.
        """
        if self.eval_loss is not None:
            return self.eval_loss
        assert self.train_loss is not None  # __post_init__ requires one of the two
        steps, loss = self.train_loss
        if steps.size <= TRAIN_BINS:
            return steps, loss
        groups = np.array_split(np.arange(steps.size), TRAIN_BINS)
        return (np.array([int(round(steps[g].mean())) for g in groups]), np.array([loss[g].mean() for g in groups]))

    def health(self) -> Tuple[str, ...]:
        """Why this run's loss history is a doubtful thing to fit (empty when it looks like healthy training).

        Two checks on :meth:`points` after the warm-up: *diverged* (some loss above 1.5 times the first one), and
        *rising at the end* (the last loss more than 2% above the lowest loss of the history's last quarter). The
        laws describe a loss that falls with the LR area; fitted on such a run they still give a number, which the
        fit and its predictions carry as a warning (``LawFit.warnings``, ``Prediction.warnings``).

        Example:
            >>> import numpy as np
            >>> lr = np.r_[np.ones(80), np.linspace(1, 0, 21)[1:]]
            >>> Run(lr, eval_loss=([20, 40, 60, 80, 100], [2.3, 2.2, 106, 39, 2.0])).health()
            ('run: diverged (loss 106 at batch 60, above 1.5x its first value 2.3)',)
            >>> Run(lr, eval_loss=([20, 40, 60, 80, 100], [2.3, 2.2, 2.1, 2.0, 2.2])).health()
            ('run: rising at the end (last loss 2.2 is 10% above 2 at batch 80)',)
        """
        steps, loss = self.points()
        keep = steps > self.shape.warmup  # a spike while the LR still rises is not divergence of the run
        steps, loss = (steps[keep], loss[keep]) if keep.sum() >= 2 else (steps, loss)
        out = []
        if loss.size and loss.max() > DIVERGED * loss[0]:
            i = int(np.argmax(loss))
            out.append(f'{self.name}: diverged (loss {loss[i]:.4g} at batch {steps[i]}, above {DIVERGED}x its first '
                       f'value {loss[0]:.4g})')
        tail = loss[-max(2, loss.size // 4):]
        if tail.size >= 2 and tail[-1] > (1 + RISING) * tail.min():
            i = loss.size - tail.size + int(np.argmin(tail))
            out.append(f'{self.name}: rising at the end (last loss {loss[-1]:.4g} is '
                       f'{100 * (loss[-1] / loss[i] - 1):.0f}% above {loss[i]:.4g} at batch {steps[i]})')
        return tuple(out)

    def metric_pairs(self) -> History:
        """(eval losses, metric values) at the steps that have both (empty arrays without a metric)."""
        if self.eval_metric is None or self.eval_loss is None:
            return np.empty(0), np.empty(0)
        steps, loss = self.eval_loss
        msteps, metric = self.eval_metric
        common, i, j = np.intersect1d(steps, msteps, return_indices=True)
        return loss[i], metric[j]
