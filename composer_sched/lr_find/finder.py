r"""The LR range test: ramp the LR batch by batch, record the loss, stop at divergence, put everything back.

One loop serves plain PyTorch (model, optimizer, loss function, dataloader), a Composer ``Trainer`` (its model,
optimizer and training dataloader, DDP-wrapped under the launcher) and a recipe (a fresh Trainer from it).
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import random
from typing import Any, Callable, Iterable, Optional, Union, cast

import numpy as np

from composer_sched.lr_find.suggest import RULES, GPMinimum, smooth, suggest_all
from composer_sched.schedules._base import check, check_choice, check_int, check_number

__all__ = ['LRFindResult', 'lr_find', 'ramp', 'Snapshot']

MODES = ('exp', 'exponential', 'linear')
MAX_LR = 1e6


def ramp(min_lr: float, max_lr: float, num_batches: int, mode: str = 'exp') -> np.ndarray:
    r"""The LR of each batch of the test, ``min_lr`` at the first and ``max_lr`` at the last:

    .. math:: \eta_i = \eta_{min} (\eta_{max}/\eta_{min})^{i/(N-1)}\ \ (\text{exp}),\qquad
              \eta_i = \eta_{min} + (\eta_{max}-\eta_{min})\, i/(N-1)\ \ (\text{linear}),\qquad i = 0..N-1

    Example:
        >>> ramp(1e-3, 1e-1, 3).round(12).tolist()
        [0.001, 0.01, 0.1]
    """
    t = np.arange(num_batches) / max(num_batches - 1, 1)
    if mode == 'linear':
        out = min_lr + (max_lr - min_lr) * t
    else:  # in logs: max_lr / min_lr may overflow
        out = np.exp(math.log(min_lr) + (math.log(max_lr) - math.log(min_lr)) * t)
    out[0], out[-1] = min_lr, max_lr  # exact ends
    return out


@dataclasses.dataclass
class LRFindResult:
    """What a range test recorded and what each rule suggests.

    Attributes:
        lrs, losses, smoothed: per batch run: the LR, the loss (mean over ranks) and its debiased moving average.
        suggestions: ``{rule: Suggestion}`` in :data:`~composer_sched.lr_find.suggest.RULES` order.
        gp: the GP's reading (:class:`~composer_sched.lr_find.suggest.GPMinimum`) or ``None``.
        stopped_early: the smoothed loss passed ``stop_factor`` times its best (or a loss was NaN/inf).
        num_batches, min_lr, max_lr, mode, stop_factor: the test's settings.
    """
    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestions: dict  # {rule: Suggestion}
    gp: Optional[GPMinimum]
    stopped_early: bool
    num_batches: int
    min_lr: float
    max_lr: float
    mode: str
    stop_factor: Optional[float]

    def __getitem__(self, rule: str) -> Optional[float]:
        """The suggested LR of one rule (``result['valley']``)."""
        return self.suggestions[rule].lr

    @property
    def suggested_lr(self) -> Optional[float]:
        """The LR to use: the ``peak`` rule, else (too short a record for the GP) fastai's ``valley``."""
        return self['peak'] if self['peak'] is not None else self['valley']

    def table(self) -> str:
        """The suggestions as a text table: rule, LR, and how it is read."""
        rows = [f'{"rule":<11} {"lr":>10}  how']
        for rule in RULES:
            s = self.suggestions[rule]
            lr = 'n/a' if s.lr is None else f'{s.lr:.3g}'
            desc = s.description
            if rule == 'gp_minimum' and self.gp is not None:
                desc += f'; band {self.gp.low:.3g}..{self.gp.high:.3g}, p(min passed)={self.gp.p_past:.2f}'
            if rule == 'peak' and self.gp is not None:
                desc += f'; floor starts at {self.gp.flat_low:.3g}'
            rows.append(f'{rule:<11} {lr:>10}  {desc}')
        end = 'stopped early (diverged)' if self.stopped_early else 'ran the whole ramp'
        if self.gp is not None and self.gp.p_past < 0.95:
            end += '; the loss may still fall beyond max_lr (p(min passed) < 0.95): raise max_lr'
        rows.append(f'{len(self.lrs)} of {self.num_batches} batches, lr {self.min_lr:g} -> {self.lrs[-1]:.3g} '
                    f'({self.mode}); {end}')
        return '\n'.join(rows)

    def plot(self, path: Union[str, os.PathLike], title: Optional[str] = None) -> str:
        """Write the loss against the LR (log axis), the smoothed curve, the GP band and every suggestion to
        ``path`` (PNG); returns the path."""
        from composer_sched.lr_find.plot import plot_result

        return plot_result(self, path, title=title)


class Snapshot:
    """Everything a range test changes, copied so it can be put back bit for bit: the model's parameters and buffers
    (``state_dict``), each parameter's ``.grad``, each module's train/eval flag, the optimizer's state and param
    groups, and the RNG states of ``random``, numpy, torch (CPU) and CUDA (when available)."""

    def __init__(self, model, optimizer):
        self.model, self.optimizer = model, optimizer
        self.params = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.grads = [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
        self.training = [m.training for m in model.modules()]
        self.opt = copy.deepcopy(optimizer.state_dict())
        self.rng = rng_state()

    def restore(self) -> None:
        import torch

        with torch.no_grad():
            self.model.load_state_dict(self.params)
        for p, g in zip(self.model.parameters(), self.grads):
            p.grad = g
        for m, flag in zip(self.model.modules(), self.training):
            m.training = flag
        self.optimizer.load_state_dict(self.opt)
        set_rng_state(self.rng)


def rng_state():
    """The states of ``random``, numpy, torch (CPU) and CUDA (when available)."""
    import torch

    return (random.getstate(), np.random.get_state(), torch.get_rng_state(),
            torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)


def set_rng_state(state) -> None:
    import torch

    py, npy, cpu, cuda = state
    random.setstate(py)
    np.random.set_state(npy)
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def _mean_over_ranks(loss):
    """The loss averaged over every rank (a no-op without an initialised process group of more than one)."""
    import torch.distributed as tdist

    if tdist.is_available() and tdist.is_initialized() and tdist.get_world_size() > 1:
        loss = loss.clone()
        tdist.all_reduce(loss, op=tdist.ReduceOp.SUM)
        loss /= tdist.get_world_size()
    return loss


def _total(loss):
    """Composer models may return several losses: a dict (its ``'total'``, else the sum) or a sequence (summed).

    Raises:
        ValueError: the loss is not one number the optimizer can follow: not a tensor (a Python float has no
            gradient), a tensor of more than one element (a per-sample loss: reduce it, e.g. ``.mean()``), or a
            tensor with no gradient (computed under ``no_grad``, or detached).
    """
    import torch

    if isinstance(loss, dict):
        loss = loss['total'] if 'total' in loss else sum(loss.values())
    elif isinstance(loss, (list, tuple)):
        loss = sum(loss)
    if not isinstance(loss, torch.Tensor):
        raise ValueError(f'the loss is not allowed: it is {type(loss).__name__} {loss!r}, not a torch tensor with '
                         'a gradient; return the loss tensor itself (not loss.item() or a float).')
    if loss.numel() != 1:
        raise ValueError(f'the loss is not allowed: it has shape {tuple(loss.shape)}, not one number; reduce it '
                         "(e.g. .mean(), or reduction='mean' in the loss function).")
    if not loss.requires_grad:
        raise ValueError('the loss is not allowed: it has no gradient (computed under torch.no_grad(), detached, '
                         'or the model has no trainable parameter).')
    return loss.reshape(())


def _batches(dataloader: Iterable, num_batches: int):
    """``num_batches`` batches, starting the dataloader over as often as needed."""
    done = 0
    while done < num_batches:
        got = False
        for batch in dataloader:
            got = True
            yield batch
            done += 1
            if done == num_batches:
                return
        if not got:
            raise ValueError('dataloader is empty: the range test needs at least one batch.')


def _check(min_lr, max_lr, num_batches, mode, stop_factor, beta, peak_divisor):
    min_lr = check_number('min_lr', min_lr, lo=0, lo_open=True)
    # the cap keeps every LR a float32 optimizers can hold; real ramps end at 1-10 (Lightning, fastai)
    max_lr = check_number('max_lr', max_lr, lo=0, hi=MAX_LR, lo_open=True)
    check(max_lr > min_lr, 'max_lr', max_lr, f'> min_lr ({min_lr:g})')
    num_batches = check_int('num_batches', num_batches, lo=2)
    mode = check_choice('mode', mode, MODES)
    if stop_factor is not None:
        stop_factor = check_number('stop_factor', stop_factor, lo=1, lo_open=True)
    beta = check_number('beta', beta, lo=0, hi=1, hi_open=True)
    peak_divisor = check_number('peak_divisor', peak_divisor, lo=1)
    return min_lr, max_lr, num_batches, 'linear' if mode == 'linear' else 'exp', stop_factor, beta, peak_divisor


def _run(model, optimizer, step: Callable[[Any], Any], dataloader, *, min_lr, max_lr, num_batches, mode,
         stop_factor, beta, peak_divisor, lengthscale, restore) -> LRFindResult:
    """The loop shared by every front end: ``step(batch)`` runs the forward pass and returns the loss."""
    plan = ramp(min_lr, max_lr, num_batches, mode)
    # Every group follows the ramp; groups with their own LR keep their ratio to the first group's.
    base = [float(g['lr']) for g in optimizer.param_groups]
    ratios = [b / base[0] if base[0] > 0 else 1.0 for b in base]
    snap = Snapshot(model, optimizer)
    lrs, losses = [], []
    avg, best, stopped = 0.0, math.inf, False
    try:
        model.train()
        for i, batch in enumerate(_batches(dataloader, num_batches)):
            for g, r in zip(optimizer.param_groups, ratios):
                g['lr'] = float(plan[i]) * r
            optimizer.zero_grad(set_to_none=True)
            loss = _total(step(batch))
            loss.backward()
            optimizer.step()
            value = float(_mean_over_ranks(loss.detach().float()))
            lrs.append(float(plan[i]))
            losses.append(value)
            if not math.isfinite(value):
                stopped = True
                break
            avg = beta * avg + (1 - beta) * value
            smoothed = avg / (1 - beta ** (i + 1))
            best = min(best, smoothed)
            # every rank sees the same all-reduced loss, so every rank stops at the same batch
            if stop_factor is not None and i > 0 and smoothed > stop_factor * best:
                stopped = True
                break
        # read the curve before restoring: the GP's first import may draw from the global RNGs
        lrs_a, loss_a = np.array(lrs), np.array(losses)
        smoothed_a = smooth(loss_a, beta)
        # The GP sees the divergent tail clipped at the loss the test started from: "worse than at the start", not how
        # much worse, so a blow-up does not drag the fitted minimum towards small LRs.
        head = loss_a[:max(1, num_batches // 10)]
        head = head[np.isfinite(head)]
        clip = float(np.median(head)) if head.size else None
        sugg, gp = suggest_all(lrs_a, loss_a, smoothed_a, num_batches=num_batches, clip=clip,
                               peak_divisor=peak_divisor, lengthscale=lengthscale)
    finally:
        if restore:
            snap.restore()
        else:
            optimizer.zero_grad(set_to_none=True)
    return LRFindResult(lrs_a, loss_a, smoothed_a, sugg, gp, stopped, num_batches, min_lr, max_lr, mode, stop_factor)


def _is_trainer(obj) -> bool:
    try:
        from composer import Trainer
    except ImportError:  # pragma: no cover - composer is a dependency
        return False
    return isinstance(obj, Trainer)


def lr_find(target, optimizer=None, loss_fn: Optional[Callable] = None, dataloader: Optional[Iterable] = None, *,
            min_lr: float = 1e-7, max_lr: float = 10.0, num_batches: int = 100, mode: str = 'exp',
            stop_factor: Optional[float] = 4.0, beta: float = 0.98, peak_divisor: float = 2.0,
            lengthscale: float = 0.1, restore: bool = True, overrides=()) -> LRFindResult:
    r"""LR range test (Smith 2017; fastai ``lr_find``, Lightning ``Tuner.lr_find``): train ``num_batches`` batches
    with the LR ramped from ``min_lr`` to ``max_lr``, record the loss, and read six suggestions from the curve.

    Batch :math:`i` runs at :math:`\eta_i` (:func:`ramp`); the test stops early at the first batch where the
    debiased moving average :math:`\bar\ell_i` (``beta``) exceeds ``stop_factor`` times its best so far, or the loss
    is NaN/inf. Under several processes the loss is averaged over ranks (``all_reduce``) before anything reads it,
    so every rank stops at the same batch and reports the same suggestions. Afterwards the model (parameters,
    buffers, gradients, train/eval flags), the optimizer (state and LRs) and the RNG states (``random``, numpy,
    torch, CUDA) are exactly what they were. Dataloaders are restarted as often as the ramp needs.

    Args:
        target: one of
            * a ``torch.nn.Module`` with ``optimizer``, ``loss_fn`` and ``dataloader``: each batch is an
              ``(input, target)`` pair moved to the model's device, the loss ``loss_fn(model(input), target)``;
            * a Composer ``Trainer`` (not yet fitted or between fits): its model (``model.loss``), first
              optimizer and training dataloader;
            * a :class:`~composer_sched.recipes.Recipe` or a recipe path / bundled name (``overrides`` applied): a
              fresh Trainer built from it.
        min_lr: first LR, ``> 0`` (default 1e-7, as fastai).
        max_lr: last LR, ``> min_lr`` and ``<= 1e6`` (default 10, as fastai).
        num_batches: ramp length, ``>= 2`` (default 100, as both peers).
        mode: ``'exp'`` (default) or ``'linear'``.
        stop_factor: stop when :math:`\bar\ell_i >` ``stop_factor`` times the best, ``> 1`` (default 4, as both
            peers); ``None`` runs the whole ramp.
        beta: smoothing in ``[0, 1)`` (default 0.98, as both peers).
        peak_divisor: ``peak = min(gp_minimum / peak_divisor, flat_low)``, ``>= 1`` (default 2; see the method
            card).
        lengthscale: the GP's RBF lengthscale as a fraction of the record, ``> 0`` (default 0.1).
        restore: put the model, optimizer and RNG states back afterwards (default ``True``).
        overrides: ``key=value`` recipe overrides, for a recipe target only.

    Returns:
        :class:`LRFindResult`: ``result.table()``, ``result.plot('lr_find.png')``, ``result['valley']``,
        ``result.suggested_lr``.

    Raises:
        ValueError: an argument outside its range, a missing ``optimizer``/``loss_fn``/``dataloader`` for a plain
            model, an empty dataloader or a batch that is not an ``(input, target)`` pair, a model with no trainable
            parameter (checked before training); a loss that is not one number with a gradient (a float, a
            per-sample vector, a detached tensor: at the first batch, the model and optimizer put back).

    Example:
        >>> import torch
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> x = torch.randn(64, 4); y = x @ torch.tensor([1., -2., 3., 0.5])
        >>> model = torch.nn.Linear(4, 1, bias=False)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> data = [(x[i:i + 16], y[i:i + 16, None]) for i in range(0, 64, 16)]
        >>> res = lr_find(model, opt, torch.nn.functional.mse_loss, data, min_lr=1e-4, max_lr=10, num_batches=60)
        >>> res.stopped_early, 0.01 < res['gp_minimum'] < 2
        (True, True)
        >>> opt.param_groups[0]['lr']  # the optimizer is as it was
        0.1
    """
    args = _check(min_lr, max_lr, num_batches, mode, stop_factor, beta, peak_divisor)
    lengthscale = check_number('lengthscale', lengthscale, lo=0, lo_open=True)
    kw = dict(zip(('min_lr', 'max_lr', 'num_batches', 'mode', 'stop_factor', 'beta', 'peak_divisor'), args),
              lengthscale=lengthscale, restore=restore)
    import torch

    if isinstance(target, torch.nn.Module):
        if overrides:
            raise ValueError('overrides are allowed only with a recipe target.')
        for name, v in (('optimizer', optimizer), ('loss_fn', loss_fn), ('dataloader', dataloader)):
            if v is None:
                raise ValueError(f'{name}=None is not allowed with a torch model: pass the model, an optimizer, a '
                                 'loss function and a dataloader (or a Composer Trainer / recipe alone).')
        check(isinstance(optimizer, torch.optim.Optimizer), 'optimizer', optimizer, 'a torch.optim.Optimizer')
        check(callable(loss_fn), 'loss_fn', loss_fn, 'callable as loss_fn(outputs, targets)')
        params = [p for p in target.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f'target={type(target).__name__} is not allowed: it has no trainable parameter, so no '
                             'LR changes its loss.')
        device = params[0].device
        criterion = cast(Callable, loss_fn)  # checked callable above

        def step(batch):
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise ValueError(f'a batch of type {type(batch).__name__} is not allowed: batches must be (input, '
                                 'target) pairs; for other batches wrap the model in a Composer Trainer.')
            x, y = (t.to(device) if hasattr(t, 'to') else t for t in batch)
            return criterion(target(x), y)

        return _run(target, optimizer, step, dataloader, **kw)
    if any(v is not None for v in (optimizer, loss_fn, dataloader)):
        raise ValueError('optimizer, loss_fn and dataloader are allowed only with a torch model: a Trainer or a '
                         'recipe brings its own.')
    if _is_trainer(target):
        if overrides:
            raise ValueError('overrides are allowed only with a recipe target.')
        return _run_trainer(target, kw)
    from composer_sched.recipes import Recipe, load_recipe

    if isinstance(target, (str, os.PathLike)) or target is None:
        target = load_recipe(target, list(overrides))
    elif overrides:
        target = target.with_overrides(list(overrides))
    if not isinstance(target, Recipe):
        raise ValueError(f'target={target!r} is not allowed: pass a torch model (with optimizer, loss_fn, '
                         'dataloader), a Composer Trainer, a Recipe or a recipe path.')
    rng = rng_state()  # building a Trainer reseeds the global RNGs; the caller's are put back
    try:
        trainer = target.build_trainer(progress_bar=False, loggers=[], callbacks=[])
        try:
            return _run_trainer(trainer, kw)
        finally:
            trainer.close()
    finally:
        set_rng_state(rng)


def _run_trainer(trainer, kw) -> LRFindResult:
    """The range test on a Trainer's model (DDP-wrapped under several processes), first optimizer and train
    dataloader, with its device placement and precision."""
    from composer.core import get_precision_context

    state = trainer.state
    if not any(p.requires_grad for p in state.model.parameters()):
        raise ValueError(f'the Trainer\'s model ({type(state.model).__name__}) is not allowed: it has no trainable '
                         'parameter, so no LR changes its loss.')
    if state.dataloader is None:
        raise ValueError('the Trainer has no train_dataloader: the range test trains on it.')
    if not state.optimizers:
        raise ValueError('the Trainer has no optimizer.')
    if len(state.optimizers) > 1:
        raise ValueError(f'a Trainer with {len(state.optimizers)} optimizers is not allowed: the range test ramps '
                         'one optimizer (as Lightning).')
    from torch.nn.parallel import DistributedDataParallel

    # the ComposerModel (its loss); under several processes state.model is its DDP wrapper (gradients all-reduced)
    original = state.model.module if isinstance(state.model, DistributedDataParallel) else state.model

    def step(batch):
        batch = state.device.batch_to_device(batch)
        with get_precision_context(state.precision):
            outputs = state.model(batch)
            return original.loss(outputs, batch)

    return _run(state.model, state.optimizers[0], step, state.dataloader, **kw)
