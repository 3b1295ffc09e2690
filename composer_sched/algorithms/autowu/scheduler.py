"""AutoWU as a drop-in PyTorch scheduler: ``scheduler.step(loss)`` once per optimizer step (like
``ReduceLROnPlateau``), with the reference implementation's constructor."""
from __future__ import annotations

import math
import numbers
from typing import Any, Optional

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from composer_sched.algorithms.autowu.engine import SNAPSHOTS, AutoWUConfig, AutoWUEngine, Decision
from composer_sched.algorithms.autowu.rollback import Snapshots, follow
from composer_sched.schedules._base import check, check_int

__all__ = ['AutoWUScheduler', 'group_ratios', 'broadcast_decision']


def group_ratios(lrs: list[float]) -> list[float]:
    """Each param group's LR relative to the first: AutoWU's LR is the first group's, the others keep their ratio.
    All 1.0 when the first LR is 0 or not finite (nothing to keep)."""
    ref = float(lrs[0])
    if not math.isfinite(ref) or ref <= 0:
        return [1.0 for _ in lrs]
    return [float(lr) / ref if math.isfinite(float(lr)) else 1.0 for lr in lrs]


def broadcast_decision(decision: Decision) -> Decision:
    """Rank 0's decision on every rank when ``torch.distributed`` is initialised with several processes.

    With all-reduced losses and the fixed subsampling every rank computes the same decision anyway; the broadcast
    (one small message per test, never per step) makes the agreement hold even with per-rank losses."""
    import torch.distributed as tdist

    if not (tdist.is_available() and tdist.is_initialized()) or tdist.get_world_size() < 2:
        return decision
    box = [decision]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


class AutoWUScheduler(LRScheduler):
    r"""AutoWU (Kim et al. 2021): exponential warm-up until a Gaussian-process test finds that the loss minimum is
    behind, then decay from the LR at that minimum. A PyTorch scheduler fed the training loss.

    The first param group follows :math:`\eta(k)` below; group :math:`i` gets :math:`r_i\,\eta(k)` with
    :math:`r_i` its initial LR over the first group's (the ratios are kept, unlike the reference).

    .. math::
        \eta(k) = \begin{cases} \eta_{min} (\eta_{max}/\eta_{min})^{k/W} & \text{warm-up, } k < s \\
        \eta_s \text{ (hold), then } \tfrac12 \eta_s (1 + \cos(\pi (k - C)/(T - C))) & k \ge s \end{cases}

    with :math:`T` = ``steps_per_epoch * total_epochs``, :math:`W = \lfloor T \cdot` ``max_warmup_fraction``
    :math:`\rfloor`, :math:`C = s` when ``immediate_cooldown`` else :math:`(1 - ` ``cooldown_fraction`` :math:`)T`,
    :math:`s` the switch step and :math:`\eta_s` the LR at the GP's estimated loss minimum. The switch rules
    (test, cap, divergence: ``nonfinite_patience`` NaN/inf losses or a finite blow-up) are in
    :mod:`composer_sched.algorithms.autowu.engine`.

    Args:
        optimizer: the optimizer (its LRs are overwritten from ``min_lr`` on; their ratios are kept).
        steps_per_epoch: optimizer steps per epoch, ``>= 1`` (the test cadence unless ``test_interval``).
        total_epochs: ``>= 1``; :math:`T` = ``steps_per_epoch * total_epochs``.
        min_lr, max_lr, max_warmup_fraction, warmup_unit, warmup_type, warmup_only, immediate_cooldown,
        decay_phase_stat, decay_phase_factor, cooldown_fraction, cooldown_type: as in the reference; see
            :class:`~composer_sched.algorithms.autowu.engine.AutoWUConfig` for ranges.
        device: accepted for compatibility; losses stay on whatever device they are on.
        sync_decisions: under ``torch.distributed``, broadcast rank 0's decision at each test (default True).
        model: the optimizer's model, to turn on rollback (as the Composer ``AutoWU``'s ``rollback=True``: host
            copies of ``model`` and ``optimizer`` state at healthy tests, restored when the divergence rule fires);
            ``None`` (default): no rollback, as a scheduler has no access to the weights.
        **options: the engine's other options (``test_interval``, ``patience``, ``n_preds``, ``confidence``,
            ``lengthscale``, ``nonfinite_patience``, ``blowup_fraction``, ``outlier_clip``, ``seed``, ...).

    Raises:
        ValueError: at construction, for any argument outside its range (``min_lr >= max_lr``, a fraction outside
            ``[0, 1]``, an unknown type, ...); at :meth:`step`, for a loss with more than one element.

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> sched = AutoWUScheduler(opt, steps_per_epoch=10, total_epochs=20, immediate_cooldown=True)
        >>> round(opt.param_groups[0]['lr'], 12)
        1e-05
        >>> sched.step(torch.tensor(2.3)); sched.get_last_lr()[0] > 1e-05
        True
    """

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, total_epochs: int, min_lr: float = 1e-5,
                 max_lr: float = 1.0, max_warmup_fraction: float = 0.5, warmup_unit: str = 'step',
                 warmup_type: str = 'exp', warmup_only: bool = False, immediate_cooldown: bool = False,
                 decay_phase_stat: Optional[str] = None, decay_phase_factor: float = 1.0,
                 cooldown_fraction: float = 0.2, cooldown_type: str = 'cosine',
                 device: Any = None, *, sync_decisions: bool = True, model: Optional[torch.nn.Module] = None,
                 **options: Any):
        check(isinstance(optimizer, Optimizer), 'optimizer', type(optimizer).__name__, 'a torch.optim.Optimizer')
        steps_per_epoch = check_int('steps_per_epoch', steps_per_epoch, lo=1)
        total_epochs = check_int('total_epochs', total_epochs, lo=1)
        try:
            self.config = AutoWUConfig(
                min_lr=min_lr, max_lr=max_lr, max_warmup_fraction=max_warmup_fraction, warmup_type=warmup_type,
                warmup_unit=warmup_unit, warmup_only=warmup_only, immediate_cooldown=immediate_cooldown,
                cooldown_fraction=cooldown_fraction, cooldown_type=cooldown_type, decay_phase_stat=decay_phase_stat,
                decay_phase_factor=decay_phase_factor, **options)
        except TypeError as e:  # an unknown keyword
            raise ValueError(f'{e}: AutoWUScheduler options are {sorted(AutoWUConfig.__dataclass_fields__)}.') from e
        self.optimizer = optimizer
        self.device = device
        self.steps_per_epoch, self.total_epochs = steps_per_epoch, total_epochs
        if model is not None:
            check(isinstance(model, torch.nn.Module), 'model', type(model).__name__, 'a torch.nn.Module or None')
        self.model = model
        self.snapshots = Snapshots()
        self.engine = AutoWUEngine(self.config, steps_per_epoch * total_epochs, steps_per_epoch,
                                   agree=broadcast_decision if sync_decisions else None, rollback=model is not None)
        self.ratios = group_ratios([g['lr'] for g in optimizer.param_groups])
        for group in optimizer.param_groups:  # the reference's base LR is the current one, not initial_lr
            group.pop('initial_lr', None)
        self.base_lrs = [r * self.config.min_lr for r in self.ratios]
        self.last_epoch = 0
        self._step_count = 0
        self._apply()

    @property
    def phase(self) -> str:
        """``'warmup'``, ``'decay'`` (hold) or ``'cooldown'``."""
        return self.engine.phase

    @property
    def switch_step(self) -> Optional[int]:
        """The step of the switch to decay, or ``None`` during warm-up."""
        return self.engine.switch_step

    @property
    def switch_lr(self) -> Optional[float]:
        """The first group's LR at the switch, or ``None`` during warm-up."""
        return self.engine.switch_lr

    def _apply(self) -> None:
        lr = self.engine.lr()
        for group, ratio in zip(self.optimizer.param_groups, self.ratios):
            group['lr'] = ratio * lr
        self._last_lr = [group['lr'] for group in self.optimizer.param_groups]

    def get_lr(self) -> list[float]:
        """The LRs of the next optimizer step."""
        lr = self.engine.lr()
        return [ratio * lr for ratio in self.ratios]

    def step(self, loss: Any = None) -> None:  # type: ignore[override]
        """Record the loss of the optimizer step just taken and set the LRs of the next one.

        Args:
            loss: the step's (all-reduced) training loss: a 1-element tensor (kept on its device until a test)
                or a number; NaN/inf are allowed (see the divergence rule).

        Raises:
            ValueError: ``loss`` is missing or has more than one element.
        """
        if loss is None:  # e.g. a Trainer stepping it as a plain scheduler: silently guessing would mislead
            raise ValueError('loss=None is not allowed: AutoWUScheduler.step needs the training loss of the step '
                             '(in Composer, use the AutoWU algorithm instead of Trainer(schedulers=...)).')
        if isinstance(loss, torch.Tensor):
            if loss.numel() != 1:
                raise ValueError(f'loss of shape {tuple(loss.shape)} is not allowed: loss must be one number '
                                 '(reduce it first).')
            loss = loss.detach()
        elif isinstance(loss, bool) or not isinstance(loss, numbers.Real):
            raise ValueError(f'loss={loss!r} is not allowed: loss must be one number or a 1-element tensor.')
        self._step_count += 1
        self.engine.observe(loss)
        if self.model is not None:
            follow(self.engine, self.snapshots, self.model, self.optimizer)
        self.last_epoch = self.engine.step
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        """Plain types: the engine's state, the group ratios and the position; with ``model``, also the rollback
        copies (``'snapshots'``, CPU tensors: save it with ``torch.save``)."""
        out = {'engine': self.engine.state_dict(), 'ratios': list(self.ratios), 'last_epoch': self.last_epoch,
               '_step_count': self._step_count}
        if self.model is not None:
            out['snapshots'] = self.snapshots.state_dict()
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` and set the LRs of the next step: the run continues exactly.

        Raises:
            ValueError: ``state_dict`` was not saved by ``AutoWUScheduler``.
        """
        if 'engine' not in state_dict:
            raise ValueError("state_dict has no 'engine': it was not saved by AutoWUScheduler.")
        self.engine.load_state_dict(state_dict['engine'])
        self.snapshots.load_state_dict(state_dict.get('snapshots'), self.engine.snapshot_steps[-SNAPSHOTS:])
        self.engine.snapshot_steps = [s for s in self.engine.snapshot_steps if s in self.snapshots.saved]
        ratios = state_dict.get('ratios', self.ratios)
        if len(ratios) == len(self.optimizer.param_groups):
            self.ratios = [float(r) for r in ratios]
        self.last_epoch = int(state_dict.get('last_epoch', self.engine.step))
        self._step_count = int(state_dict.get('_step_count', self.engine.step))
        self._apply()
