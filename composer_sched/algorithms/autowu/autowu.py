"""AutoWU as a Composer Algorithm: the run's LR comes from the all-reduced training loss, no scheduler needed."""
from __future__ import annotations

import math
import warnings
from typing import Any, Optional

from composer.core import Algorithm, Event, State, TimeUnit
from composer.loggers import Logger

from composer_sched.algorithms.autowu.engine import SNAPSHOTS, AutoWUConfig, AutoWUEngine
from composer_sched.algorithms.autowu.rollback import Snapshots, follow
from composer_sched.algorithms.autowu.scheduler import broadcast_decision, group_ratios

__all__ = ['AutoWU']

_LOSS_KEY = 'loss/train/total'


class AutoWU(Algorithm):
    r"""AutoWU (Kim et al. 2021) for Composer: exponential warm-up from ``min_lr`` until a Gaussian-process test
    finds the loss minimum behind, then decay from the LR at that minimum (cosine to 0, or hold then cosine).

    Every batch it reads ``state.total_loss_dict['loss/train/total']`` (the loss Composer has already all-reduced
    and moved to the host, so AutoWU adds no synchronisation) at ``Event.BATCH_END`` and writes the LR of the next
    batch into every param group: the first group gets :math:`\eta(k)`, group :math:`i` gets
    :math:`r_i \eta(k)` with :math:`r_i` its initial LR over the first group's. :math:`\eta(k)` and the switch
    rules are those of :class:`~composer_sched.algorithms.autowu.engine.AutoWUEngine`:

    .. math::
        \eta(k) = \eta_{min} (\eta_{max}/\eta_{min})^{k/W}\ (k < s),\qquad
        \eta(k) = \tfrac12 \eta_s (1 + \cos(\pi (k - C)/(T - C)))\ (k \ge C)

    with :math:`T` the run's length in batches, :math:`W` the warm-up cap, :math:`s`/:math:`\eta_s` the switch
    step/LR and :math:`C` the cool-down start (:math:`s` with ``immediate_cooldown``).

    Its state (``state_dict``: phase, loss history, test record, switch LR and step, subsampling key, group
    ratios; plain types) is saved in Composer checkpoints; pass ``AutoWU(...)`` again when resuming and the run
    continues with exactly the LRs it would have had.

    Args:
        min_lr, max_lr, max_warmup_fraction, warmup_type, warmup_unit, warmup_only, immediate_cooldown,
        cooldown_fraction, cooldown_type, decay_phase_stat, decay_phase_factor: see
            :class:`~composer_sched.algorithms.autowu.engine.AutoWUConfig` (defaults: the reference's).
        replace: ``True`` to drop ``Trainer(schedulers=...)`` (default ``False``: having both is an error).
        test_interval: batches between tests, ``>= 1`` (default ``None``: one epoch).
        patience, n_preds, confidence, lengthscale, fit_points, predict_points, grid_points, nonfinite_patience,
        decay_patience, seed: the engine's options, defaults the reference's (see ``AutoWUConfig``).
        blowup_window, blowup_fraction, blowup_noise, outlier_window, outlier_clip: the finite blow-up rule and the
            GP's winsorising (ours, not the reference's; see ``AutoWUConfig``).
        rollback: ``True`` (default) to also restore the weights and optimizer state when the divergence rule
            fires: at each healthy warm-up test (every loss since the previous test finite and below half-way to the
            blow-up threshold) AutoWU copies the model's and the optimizer's ``state_dict`` to host memory, keeping
            the last 2; on divergence it loads the latest one taken before the blow-up whose own next loss was
            healthy, then decays from the switch LR. Costs up to two host copies of model + optimizer state during
            the warm-up (freed at the switch), one copy per test, and the same in checkpoints taken during the
            warm-up. Training time is not rewound: the steps since the snapshot are spent.

    Raises:
        ValueError: at construction, for an argument outside its range; before the first batch, when the run also
            has schedulers (without ``replace=True``) or another composer_sched schedule algorithm, or its
            ``max_duration`` is not in epochs or batches.

    Example:
        >>> from composer_sched import AutoWU
        >>> algo = AutoWU(min_lr=1e-4, max_lr=1.0, immediate_cooldown=True, test_interval=10)
    """

    def __init__(self, min_lr: float = 1e-5, max_lr: float = 1.0, max_warmup_fraction: float = 0.5,
                 warmup_type: str = 'exp', warmup_unit: str = 'step', warmup_only: bool = False,
                 immediate_cooldown: bool = False, cooldown_fraction: float = 0.2, cooldown_type: str = 'cosine',
                 decay_phase_stat: Optional[str] = None, decay_phase_factor: float = 1.0, replace: bool = False,
                 *, test_interval: Optional[int] = None, patience: int = 3, n_preds: int = 5,
                 confidence: float = 0.95, lengthscale: float = 0.2, fit_points: int = 100,
                 predict_points: int = 500, grid_points: int = 500, nonfinite_patience: int = 3,
                 decay_patience: int = 5, seed: int = 0, blowup_window: int = 10,
                 blowup_fraction: Optional[float] = 0.8, blowup_noise: float = 10.0,
                 blowup_backoff: float = 2.0, outlier_window: int = 5,
                 outlier_clip: Optional[float] = 4.0, rollback: bool = True):
        # Explicit keywords (not **options) so recipes can check names and types against the signature.
        self.config = AutoWUConfig(
            min_lr=min_lr, max_lr=max_lr, max_warmup_fraction=max_warmup_fraction, warmup_type=warmup_type,
            warmup_unit=warmup_unit, warmup_only=warmup_only, immediate_cooldown=immediate_cooldown,
            cooldown_fraction=cooldown_fraction, cooldown_type=cooldown_type, decay_phase_stat=decay_phase_stat,
            decay_phase_factor=decay_phase_factor, test_interval=test_interval, patience=patience, n_preds=n_preds,
            confidence=confidence, lengthscale=lengthscale, fit_points=fit_points, predict_points=predict_points,
            grid_points=grid_points, nonfinite_patience=nonfinite_patience, decay_patience=decay_patience, seed=seed,
            blowup_window=blowup_window, blowup_fraction=blowup_fraction, blowup_noise=blowup_noise,
            blowup_backoff=blowup_backoff, outlier_window=outlier_window, outlier_clip=outlier_clip)
        if not isinstance(replace, bool):
            raise ValueError(f'replace={replace!r} is not allowed: replace must be True or False.')
        if not isinstance(rollback, bool):
            raise ValueError(f'rollback={rollback!r} is not allowed: rollback must be True or False.')
        self.replace = replace
        self.rollback = rollback
        self.snapshots = Snapshots()
        self.engine: Optional[AutoWUEngine] = None
        self.ratios: Optional[list[float]] = None
        self._loaded: Optional[dict[str, Any]] = None

    def __repr__(self) -> str:
        defaults = AutoWUConfig()
        args = {k: v for k, v in self.config.to_dict().items() if v != getattr(defaults, k)}
        if self.replace:
            args['replace'] = True
        if not self.rollback:
            args['rollback'] = False
        return f'AutoWU({", ".join(f"{k}={v!r}" for k, v in args.items())})'

    def __eq__(self, other: object) -> bool:
        # Equal when built from the same arguments (an unpickled copy is); the run's state is the engine's.
        return type(other) is type(self) and repr(other) == repr(self)

    def __hash__(self) -> int:
        return hash(repr(self))

    # -- run --------------------------------------------------------------------------------------------------
    @property
    def phase(self) -> Optional[str]:
        """``'warmup'``, ``'decay'`` or ``'cooldown'`` (``None`` before the run starts)."""
        return None if self.engine is None else self.engine.phase

    @property
    def switch_step(self) -> Optional[int]:
        return None if self.engine is None else self.engine.switch_step

    @property
    def switch_lr(self) -> Optional[float]:
        return None if self.engine is None else self.engine.switch_lr

    def match(self, event: Event, state: State) -> bool:
        return event in (Event.BEFORE_LOAD, Event.FIT_START, Event.BATCH_END)

    def apply(self, event: Event, state: State, logger: Logger) -> Optional[int]:
        if event == Event.BEFORE_LOAD:
            self._check_run(state)
        elif event == Event.FIT_START:
            self._start(state)
        else:
            loss = (state.total_loss_dict or {}).get(_LOSS_KEY, math.nan)
            engine = self._live()
            decision = engine.observe(loss)
            restored = follow(engine, self.snapshots, state.model, state.optimizers[0]) if self.rollback else None
            self._write_lr(state)
            metrics = {'autowu/lr': engine.lr()}
            if restored is not None:
                metrics['autowu/rollback_to_step'] = float(restored)
            if decision is not None and decision.probs:
                metrics['autowu/p_past_minimum'] = float(sorted(decision.probs)[len(decision.probs) // 2])
            logger.log_metrics(metrics)
        return None

    def _check_run(self, state: State) -> None:
        from composer_sched.algorithms.roles import ScheduleAlgorithm

        others = [a for a in state.algorithms if isinstance(a, ScheduleAlgorithm)]
        if others:
            raise ValueError(f'{self!r} with {others!r} is not allowed: AutoWU sets the LR from the loss and does '
                             'not compose with other composer_sched schedule algorithms; use one or the other.')
        if state.schedulers:
            if not self.replace:
                raise ValueError(f'{self!r} sets the LR but the Trainer also has schedulers={state.schedulers!r}; '
                                 'remove them, or pass replace=True to AutoWU to drop them.')
            state.schedulers = []

    def _total_steps(self, state: State) -> tuple[int, int]:
        md = state.max_duration
        dl = None if state.dataloader_len is None else int(state.dataloader_len.value)
        if md is None:
            raise ValueError('max_duration=None is not allowed with AutoWU: it needs the length of training.')
        if md.unit == TimeUnit.BATCH:
            total = int(md.value)
        elif md.unit == TimeUnit.EPOCH and dl:
            total = int(md.value) * dl
        else:
            raise ValueError(f'max_duration={md} is not allowed with AutoWU: give it in batches, or in epochs with a '
                             'sized dataloader.')
        spe = dl or self.config.test_interval
        if not spe:
            raise ValueError('test_interval=None is not allowed with an unsized dataloader: give test_interval.')
        return total, spe

    def _start(self, state: State) -> None:
        if len(state.optimizers) != 1:
            raise ValueError(f'{len(state.optimizers)} optimizers are not allowed with AutoWU: it needs exactly one.')
        total, spe = self._total_steps(state)
        if self._loaded is None and self.engine is not None:  # a further fit(): continue, on the new horizon
            self._loaded = {'engine': self.engine.state_dict(), 'ratios': self.ratios}
        self.engine = AutoWUEngine(self.config, total, spe, agree=broadcast_decision, rollback=self.rollback)
        optimizer = state.optimizers[0]
        if self._loaded is not None:
            self.engine.load_state_dict(self._loaded['engine'])
            self.ratios = [float(r) for r in self._loaded['ratios']]
            self._loaded = None
            if self.engine.step != int(state.timestamp.batch):
                warnings.warn(f'AutoWU state is at step {self.engine.step} but the run resumes at batch '
                              f'{int(state.timestamp.batch)}; continuing from the AutoWU state.')
        if self.ratios is None or len(self.ratios) != len(optimizer.param_groups):
            self.ratios = group_ratios([g['lr'] for g in optimizer.param_groups])
        # copies the engine no longer names (e.g. a state saved without rollback) are dropped; a step the engine
        # names without a copy is dropped from the engine too, so the two agree
        self.engine.snapshot_steps = [s for s in self.engine.snapshot_steps if s in self.snapshots.saved]
        self.snapshots.prune(self.engine.snapshot_steps)
        self._write_lr(state)

    def _live(self) -> AutoWUEngine:
        # FIT_START builds the engine and the group ratios; Composer runs no BATCH_END before it
        if self.engine is None or self.ratios is None:
            raise RuntimeError('AutoWU got a batch before FIT_START: it has no engine yet')
        return self.engine

    def _write_lr(self, state: State) -> None:
        lr = self._live().lr()
        for group, ratio in zip(state.optimizers[0].param_groups, self.ratios or ()):
            group['lr'] = ratio * lr

    # -- checkpoints ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{'repr', 'config', 'ratios', 'engine', 'snapshots'}``: plain types (``engine`` is ``None`` before the
        run), except ``snapshots``, the rollback copies (``{step: {'model': ..., 'optimizer': ...}}``, CPU
        tensors; empty after the warm-up or with ``rollback=False``), which make a resumed run exact even across a
        blow-up."""
        out: dict[str, Any] = {'repr': repr(self), 'config': self.config.to_dict(), 'ratios': self.ratios,
                               'snapshots': self.snapshots.state_dict()}
        if self.engine is not None:
            out['engine'] = self.engine.state_dict()
        elif self._loaded is not None:
            out['engine'], out['ratios'] = self._loaded['engine'], self._loaded['ratios']
        else:
            out['engine'] = None
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Keep a saved state; it is applied when the run's horizon is known (``Event.FIT_START``).

        Raises:
            ValueError: ``state`` was not saved by :class:`AutoWU`.
        """
        if not isinstance(state, dict) or 'engine' not in state:
            raise ValueError('state has no "engine": it was not saved by AutoWU.')
        if state['engine'] is None:
            return
        self._loaded = {'engine': state['engine'], 'ratios': state.get('ratios') or []}
        self.snapshots.load_state_dict(state.get('snapshots') if self.rollback else None,
                                       list(state['engine'].get('snapshot_steps', []))[-SNAPSHOTS:])
        if self.engine is not None:  # loaded mid-run (e.g. by hand): apply at once
            self.engine.load_state_dict(state['engine'])
            self.ratios = [float(r) for r in self._loaded['ratios']] or self.ratios
            self._loaded = None
