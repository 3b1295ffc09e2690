r"""AutoWU's decision engine, shared by the Composer Algorithm and the PyTorch scheduler.

:class:`AutoWUConfig` validates the arguments (a ``ValueError`` at construction); :class:`AutoWUEngine` holds the
typed state (phase, loss history, test record, switch LR and step, decay counters) and answers two questions: what
LR the reference param group uses for the next optimizer step (:meth:`AutoWUEngine.lr`), and what a new loss
changes (:meth:`AutoWUEngine.observe`). Its ``state_dict`` holds plain Python types only.

Phases and the LR of the next step after ``k`` observed losses (:math:`T` total steps, :math:`W` the warm-up
cap, :math:`C` the cool-down start, :math:`s`/:math:`\eta_s` the switch step/LR):

* ``warmup``: :math:`\eta(k) = \eta_{min} (\eta_{max}/\eta_{min})^{k/W}` (or linear), from the core's
  :class:`~composer_sched.schedules.ExponentialWarmUp` / :class:`~composer_sched.schedules.LinearWarmUp`.
* ``decay`` (``immediate_cooldown=False``): :math:`\eta_s \gamma^{n}`, :math:`n` the decay-phase reductions.
* ``cooldown``: from the LR where it starts down to 0 at :math:`T`, with the core's
  :class:`~composer_sched.schedules.CosineAnnealingSchedule` (or :class:`~composer_sched.schedules.LinearCoolDown`).

Switch rules during warm-up, checked every ``test_interval`` steps (default: one epoch):

1. **divergence** -- at a test, either the last ``nonfinite_patience`` losses are all NaN/inf, or the loss has
   *blown up*: with :math:`w` = ``blowup_window``, :math:`L_0` the median of the first :math:`w` losses,
   :math:`B` the lowest median of :math:`w` consecutive losses so far, :math:`R` the median of the last :math:`w`
   (NaN/inf count as :math:`+\infty`) and :math:`\hat\sigma` the robust per-step noise
   (:math:`1.4826\,\mathrm{median}|\Delta L| / \sqrt 2`),

   .. math:: R \ge \theta = B + \max\big(\rho\,(L_0 - B),\ \kappa\hat\sigma\big),\qquad
             \rho = \texttt{blowup\_fraction},\ \kappa = \texttt{blowup\_noise}

   (the loss gave back a fraction :math:`\rho` of its progress, and at least :math:`\kappa` noise widths, over
   most of the last :math:`w` steps). Switch now, to the LR at the GP's estimated minimum of the history
   **before the blow-up** (before the first step after :math:`B`'s window that is :math:`\ge \theta` or
   non-finite), capped at the LR of the step before it; too short a history for the GP: the LR of the lowest
   finite loss before it; none: ``min_lr``;
2. **test** -- the GP test passed (``p > confidence`` for a majority of ``n_preds`` posteriors) ``patience``
   times in a row: switch to the mean of the LRs in use at the ``n_preds`` estimated minima;
3. **cap** -- step :math:`W` (or :math:`C` when it comes first) is reached: switch at the warm-up LR there.

Rollback (``rollback=True``; the caller holds the weights, :mod:`.rollback`): at each *healthy* warm-up test (the
losses since the previous test finite, all below :math:`\theta`, their median below :math:`B + (\theta - B)/2`)
the engine sets :attr:`snapshot_due` and records the step (the last :data:`SNAPSHOTS` are kept); at a divergence
switch it names in :attr:`restore_step` the latest recorded step before the blow-up's onset.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Optional

import numpy as np

from composer_sched.algorithms.autowu import gp
from composer_sched.schedules import ConstantSchedule, CosineAnnealingSchedule, LinearCoolDown, Schedule, warm_up
from composer_sched.schedules._base import ParamError, check, check_choice, check_int, check_number

__all__ = ['AutoWUConfig', 'AutoWUEngine', 'Decision']

WARMUP_TYPES = ('exp', 'exponential', 'linear')
COOLDOWN_TYPES = ('cosine', 'linear', 'sqrt')
PHASES = ('warmup', 'decay', 'cooldown')
_STATE_VERSION = 1
#: Rollback keeps the weights of the last this many healthy tests: the newest may already hold the harmful update
#: (a loss is only seen one step after the weights that produce it), so the one before is the fallback.
SNAPSHOTS = 2


@dataclasses.dataclass(frozen=True)
class AutoWUConfig:
    """AutoWU's arguments, validated at construction (each bad value is a ``ValueError`` naming it).

    Args:
        min_lr: first warm-up LR, ``> 0`` (default 1e-5).
        max_lr: where the warm-up ramp would end at the cap, ``> min_lr`` (default 1.0).
        max_warmup_fraction: warm-up cap :math:`W` as a fraction of training, in ``[0, 1]`` (default 0.5).
        warmup_type: ``'exp'`` (``'exponential'``) or ``'linear'``.
        warmup_unit: ``'step'`` (LR changes every step) or ``'epoch'`` (once per epoch).
        warmup_only: ablation: never test; warm up to the cap, then decay.
        immediate_cooldown: after the switch, cool down at once (``True``) or hold, then cool down over the last
            ``cooldown_fraction`` (``False``).
        cooldown_fraction: in ``[0, 1]`` (default 0.2).
        cooldown_type: ``'cosine'`` (default), ``'linear'`` or ``'sqrt'`` (1-sqrt), all to 0 at the end.
        decay_phase_stat: ``None`` (multiply the held LR by ``decay_phase_factor`` every epoch) or ``'loss'``
            (multiply it when the epoch-mean loss has not improved for ``decay_patience`` epochs).
        decay_phase_factor: :math:`\\gamma` in ``(0, 1]`` (default 1: a constant hold).
        test_interval: steps between tests, ``>= 1``; ``None``: one epoch (the reference's cadence).
        patience: consecutive passing tests needed to switch, ``>= 1`` (reference: 3).
        n_preds: posteriors per test (majority vote), ``>= 1`` (reference: 5).
        confidence: :math:`p` threshold of a "yes" vote, in ``(0.5, 1)`` (reference: 0.95).
        lengthscale: fixed RBF lengthscale in normalised history units, ``> 0`` (reference: 0.2).
        fit_points, predict_points, grid_points: subsample caps and grid size, ``>= 8`` (reference: 100, 500, 500).
        nonfinite_patience: consecutive NaN/inf losses that count as divergence, ``>= 1`` (default 3).
        blowup_window: :math:`w`, the losses in each median of the blow-up rule, ``>= 2`` (default 10).
        blowup_fraction: :math:`\rho > 0`, the share of the progress :math:`L_0 - B` the loss must give back to
            count as a blow-up (default 0.8); ``None`` turns the finite blow-up rule off (NaN/inf still count).
        blowup_noise: :math:`\\kappa \\ge 0`, the least rise in robust noise widths (default 10).
        blowup_backoff: ``>= 1``: after a blow-up the switch LR is also at most the LR where it blew up divided by
            this (default 2).
        outlier_window, outlier_clip: the GP's winsorising (:func:`~composer_sched.algorithms.autowu.gp.winsorise`):
            neighbourhood half-width in steps, ``>= 1`` (default 5), and clip width in robust sd, ``> 0``
            (default 4); ``outlier_clip=None`` fits the raw losses, as the reference does.
        decay_patience: epochs without improvement before a reduction with ``decay_phase_stat='loss'`` (5).
        seed: seeds the subsampling (same on every rank).

    Raises:
        ValueError: an argument is outside its range.
    """
    min_lr: float = 1e-5
    max_lr: float = 1.0
    max_warmup_fraction: float = 0.5
    warmup_type: str = 'exp'
    warmup_unit: str = 'step'
    warmup_only: bool = False
    immediate_cooldown: bool = False
    cooldown_fraction: float = 0.2
    cooldown_type: str = 'cosine'
    decay_phase_stat: Optional[str] = None
    decay_phase_factor: float = 1.0
    test_interval: Optional[int] = None
    patience: int = 3
    n_preds: int = 5
    confidence: float = 0.95
    lengthscale: float = 0.2
    fit_points: int = 100
    predict_points: int = 500
    grid_points: int = 500
    nonfinite_patience: int = 3
    decay_patience: int = 5
    seed: int = 0
    blowup_window: int = 10
    blowup_fraction: Optional[float] = 0.8
    blowup_noise: float = 10.0
    blowup_backoff: float = 2.0
    outlier_window: int = gp.OUTLIER_WINDOW
    outlier_clip: Optional[float] = gp.OUTLIER_CLIP

    def __post_init__(self):
        check_number('min_lr', self.min_lr, lo=0, lo_open=True)
        check_number('max_lr', self.max_lr, lo=0, lo_open=True)
        check(self.max_lr > self.min_lr, 'max_lr', self.max_lr, f'> min_lr ({self.min_lr})')
        check_number('max_warmup_fraction', self.max_warmup_fraction, lo=0, hi=1)
        check_choice('warmup_type', self.warmup_type, WARMUP_TYPES)
        check_choice('warmup_unit', self.warmup_unit, ('step', 'epoch'))
        check(isinstance(self.warmup_only, bool), 'warmup_only', self.warmup_only, 'True or False')
        check(isinstance(self.immediate_cooldown, bool), 'immediate_cooldown', self.immediate_cooldown,
              'True or False')
        check_number('cooldown_fraction', self.cooldown_fraction, lo=0, hi=1)
        if self.cooldown_type == 'half_cosine':
            raise ValueError("cooldown_type='half_cosine' is not allowed: the reference's half_cosine halves the LR "
                             "at the switch; cooldown_type must be one of 'cosine', 'linear', 'sqrt'.")
        check_choice('cooldown_type', self.cooldown_type, COOLDOWN_TYPES)
        if self.decay_phase_stat not in (None, 'loss'):  # check_choice takes names only; None is allowed here
            raise ParamError('decay_phase_stat', self.decay_phase_stat, "one of None, 'loss'")
        check_number('decay_phase_factor', self.decay_phase_factor, lo=0, hi=1, lo_open=True)
        if self.test_interval is not None:
            check_int('test_interval', self.test_interval, lo=1)
        check_int('patience', self.patience, lo=1)
        check_int('n_preds', self.n_preds, lo=1)
        check_number('confidence', self.confidence, lo=0.5, hi=1, lo_open=True, hi_open=True)
        check_number('lengthscale', self.lengthscale, lo=0, lo_open=True)
        for name in ('fit_points', 'predict_points', 'grid_points'):
            check_int(name, getattr(self, name), lo=gp.MIN_POINTS)
        check_int('nonfinite_patience', self.nonfinite_patience, lo=1)
        check_int('decay_patience', self.decay_patience, lo=1)
        check_int('seed', self.seed, lo=0)
        check_int('blowup_window', self.blowup_window, lo=2)
        if self.blowup_fraction is not None:
            check_number('blowup_fraction', self.blowup_fraction, lo=0, lo_open=True)
        check_number('blowup_noise', self.blowup_noise, lo=0)
        check_number('blowup_backoff', self.blowup_backoff, lo=1)
        check_int('outlier_window', self.outlier_window, lo=1)
        if self.outlier_clip is not None:
            check_number('outlier_clip', self.outlier_clip, lo=0, lo_open=True)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Decision:
    """What a test decided; under ``torch.distributed`` rank 0's decision is broadcast (see ``agree``)."""
    switch: bool
    lr: float
    reason: str
    passed: bool
    probs: tuple[float, ...] = ()
    healthy: bool = False  # no loss since the last test rose toward a blow-up: a snapshot may be taken
    restore: Optional[int] = None  # after a divergence: the step of the snapshot to restore (rollback)


def _as_floats(values: list) -> np.ndarray:
    """Losses (floats or 1-element tensors, possibly on a GPU) as a float64 array: the only host sync."""
    if not values:
        return np.empty(0)
    if all(hasattr(v, 'detach') for v in values):
        import torch
        return torch.stack([v.detach().reshape(()).float() for v in values]).cpu().double().numpy()
    return np.array([float(v.detach().reshape(()).item()) if hasattr(v, 'detach') else float(v) for v in values])


class AutoWUEngine:
    """AutoWU's state and decisions for one run of ``total_steps`` optimizer steps.

    Args:
        config: the validated arguments.
        total_steps: :math:`T`, ``>= 1``.
        steps_per_epoch: ``>= 1``; the default test cadence, the epoch of ``warmup_unit='epoch'`` and of the decay
            phase.
        agree: optional ``Decision -> Decision`` applied to every test's decision (e.g. a broadcast from rank 0).
        rollback: keep the steps of healthy-test snapshots (:attr:`snapshot_due`, :attr:`snapshot_steps`) and, on
            divergence, name the one to restore (:attr:`restore_step`); the caller holds the weights.

    Raises:
        ValueError: ``total_steps`` or ``steps_per_epoch`` below 1.

    Example:
        >>> eng = AutoWUEngine(AutoWUConfig(min_lr=1e-4, max_lr=1.0), total_steps=1000, steps_per_epoch=10)
        >>> round(eng.lr(), 12), round(eng.lr(250), 12), eng.cap  # the cap: W = 500 steps
        (0.0001, 0.01, 500)
    """

    def __init__(self, config: AutoWUConfig, total_steps: int, steps_per_epoch: int,
                 agree: Optional[Callable[[Decision], Decision]] = None, rollback: bool = False):
        self.config = config
        self.rollback = bool(rollback)
        self.total_steps = check_int('total_steps', total_steps, lo=1)
        self.steps_per_epoch = check_int('steps_per_epoch', steps_per_epoch, lo=1)
        self.interval = int(config.test_interval or self.steps_per_epoch)
        self.agree = agree
        c = config
        kind = 'linear' if c.warmup_type == 'linear' else 'exponential'
        if c.warmup_unit == 'epoch':
            total_epochs = self.total_steps / self.steps_per_epoch
            w_units = int(total_epochs * c.max_warmup_fraction)
            self.cap = w_units * self.steps_per_epoch
        else:
            w_units = int(self.total_steps * c.max_warmup_fraction)
            self.cap = w_units
        self._w_units = w_units
        self.warmup_schedule: Schedule = warm_up(ConstantSchedule(c.max_lr), length=w_units, start_lr=c.min_lr,
                                                 kind=kind)
        self.cooldown_start = (self.total_steps if c.immediate_cooldown
                               else int(math.ceil((1 - c.cooldown_fraction) * self.total_steps - 1e-9)))
        self._tail: Optional[Schedule] = None
        self.reset()

    # ------------------------------------------------------------------------------------------------ state
    def reset(self) -> None:
        """Back to step 0 of the warm-up (or straight to the decay if the cap is 0)."""
        self.step = 0
        self.phase = 'warmup'
        self._hist = np.empty(min(self.cap, 4096) or 1)
        self._n = 0
        self._pending: list = []
        self.record: list[bool] = []
        self.tests: list[dict[str, Any]] = []
        self.hyper: Optional[gp.GPHyper] = None
        self.switch_step: Optional[int] = None
        self.switch_lr: Optional[float] = None
        self.switch_reason: Optional[str] = None
        self.reductions = 0
        self.cool_step: Optional[int] = None
        self.cool_lr: Optional[float] = None
        self._tail = None
        self._epoch_losses: list = []
        self._best = math.inf
        self._bad_epochs = 0
        self._scan: Optional[tuple[int, float, int]] = None
        self.snapshot_steps: list[int] = []
        self.snapshot_due = False
        self.restore_step: Optional[int] = None
        if self.cap <= 0:
            self._switch(0, self.config.max_lr, 'no_warmup')

    @property
    def history(self) -> np.ndarray:
        """The per-step warm-up losses observed so far (NaN/inf kept), flushing pending ones (a host sync)."""
        self._flush()
        return self._hist[:self._n].copy()

    def _flush(self) -> None:
        if not self._pending:
            return
        vals = _as_floats(self._pending)
        self._pending = []
        need = self._n + len(vals)
        if need > len(self._hist):  # amortised O(1) append
            grown = np.empty(max(need, 2 * len(self._hist)))
            grown[:self._n] = self._hist[:self._n]
            self._hist = grown
        self._hist[self._n:need] = vals
        self._n = need

    def state_dict(self) -> dict[str, Any]:
        """Plain types only: phase, step, loss history, test record, switch/cool-down LR and step, counters, the
        GP fit (its warm start) and the subsampling key (``seed`` and the number of tests run)."""
        self._flush()
        self._flush_epoch()
        return {
            'version': _STATE_VERSION,
            'step': self.step,
            'phase': self.phase,
            'history': [float(v) for v in self._hist[:self._n]],
            'record': [bool(v) for v in self.record],
            'tests': [dict(t) for t in self.tests],
            'hyper': None if self.hyper is None else [float(v) for v in self.hyper.as_array()],
            'switch_step': self.switch_step,
            'switch_lr': self.switch_lr,
            'switch_reason': self.switch_reason,
            'reductions': self.reductions,
            'cool_step': self.cool_step,
            'cool_lr': self.cool_lr,
            'epoch_losses': [float(v) for v in self._epoch_losses],
            'best': float(self._best),
            'bad_epochs': self._bad_epochs,
            'seed': self.config.seed,
            'total_steps': self.total_steps,
            'snapshot_steps': [int(v) for v in self.snapshot_steps],
            'restore_step': self.restore_step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output; the horizon (``total_steps``) stays this engine's own.

        Raises:
            ValueError: ``state`` was not produced by :meth:`state_dict`.
        """
        missing = {'step', 'phase', 'history', 'record', 'switch_step', 'switch_lr'} - set(state)
        if missing:
            raise ValueError(f'state_dict is missing {sorted(missing)}: it was not saved by AutoWU.')
        check_choice('phase', state['phase'], PHASES)
        self.step = int(state['step'])
        self.phase = state['phase']
        hist = np.asarray(state['history'], dtype=float)
        self._hist = np.empty(max(len(hist), min(self.cap, 4096), 1))
        self._hist[:len(hist)] = hist
        self._n = len(hist)
        self._pending = []
        self.record = [bool(v) for v in state['record']]
        self.tests = [dict(t) for t in state.get('tests', [])]
        self.hyper = None if state.get('hyper') is None else gp.GPHyper.from_array(state['hyper'])
        self.switch_step = state['switch_step']
        self.switch_lr = None if state['switch_lr'] is None else float(state['switch_lr'])
        self.switch_reason = state.get('switch_reason')
        self.reductions = int(state.get('reductions', 0))
        self.cool_step = state.get('cool_step')
        self.cool_lr = None if state.get('cool_lr') is None else float(state['cool_lr'])
        self._epoch_losses = list(state.get('epoch_losses', []))
        self._best = float(state.get('best', math.inf))
        self._bad_epochs = int(state.get('bad_epochs', 0))
        self._tail = None
        self._scan = None  # derived from the history: rebuilt at the next test
        self.snapshot_steps = [int(v) for v in state.get('snapshot_steps', [])] if self.rollback else []
        self.snapshot_due = False
        self.restore_step = None if state.get('restore_step') is None else int(state['restore_step'])

    # ------------------------------------------------------------------------------------------------ LR
    def warmup_lr(self, position: float) -> float:
        """The warm-up LR in use at step ``position`` (fractional positions interpolate the ramp)."""
        if self.config.warmup_unit == 'epoch':
            position = math.floor(position / self.steps_per_epoch)
        return self.warmup_schedule(position)

    def _tail_schedule(self) -> Schedule:
        if self._tail is None:
            assert self.cool_step is not None and self.cool_lr is not None  # set on entering the cool-down
            length = self.total_steps - self.cool_step
            lr0 = self.cool_lr
            if length <= 0:
                self._tail = ConstantSchedule(lr0)
            elif self.config.cooldown_type == 'cosine':
                self._tail = CosineAnnealingSchedule(min_lr=0.0, max_lr=lr0, cycle_length=length)
            else:
                self._tail = LinearCoolDown(ConstantSchedule(lr0), finish_lr=0.0, start_idx=0, length=length,
                                            shape=self.config.cooldown_type)
        return self._tail

    def lr(self, step: Optional[int] = None) -> float:
        """LR of the reference param group for the optimizer step that follows ``step`` observed losses
        (default: now). Only the current phase's formula is known, so ``step`` should not precede the switch."""
        k = self.step if step is None else step
        if self.phase == 'warmup':
            return self.warmup_lr(k)
        if self.phase == 'decay':
            assert self.switch_lr is not None  # set by the switch into the decay phase
            return self.switch_lr * self.config.decay_phase_factor ** self.reductions
        assert self.cool_step is not None  # the only phase left is the cool-down
        return self._tail_schedule()(k - self.cool_step)

    # ------------------------------------------------------------------------------------------------ steps
    def _switch(self, step: int, lr: float, reason: str) -> None:
        self.switch_step, self.switch_lr, self.switch_reason = int(step), float(lr), reason
        self._pending = []
        self.snapshot_steps, self.snapshot_due = [], False  # the warm-up is over: nothing left to roll back to
        if self.config.immediate_cooldown or step >= self.cooldown_start:
            self._start_cooldown(step, lr)
        else:
            self.phase = 'decay'

    def _start_cooldown(self, step: int, lr: float) -> None:
        self.phase, self.cool_step, self.cool_lr, self._tail = 'cooldown', int(step), float(lr), None

    def observe(self, loss: Any) -> Optional[Decision]:
        """Record the loss of the optimizer step just taken (a float or a 1-element tensor, kept on its device
        until a test needs it) and advance one step. Returns the decision of a test run at this step, if any."""
        self.step += 1
        k = self.step
        decision = None
        self.snapshot_due = False
        if self.phase == 'warmup':
            self._pending.append(loss)
            at_cap = k >= min(self.cap, self.cooldown_start)
            if k % self.interval == 0 or at_cap:
                decision = self._test(k)
                if self.agree is not None:
                    decision = self.agree(decision)
                self.record = (self.record + [decision.passed])[-self.config.patience:]
                if decision.switch:
                    self.restore_step = decision.restore
                    self._switch(k, decision.lr, decision.reason)
                elif self.rollback and decision.healthy and not at_cap:
                    self.snapshot_due = True  # the caller copies the weights now (after step k)
                    self.snapshot_steps = (self.snapshot_steps + [k])[-SNAPSHOTS:]
            if self.phase == 'warmup' and at_cap:
                self._switch(k, self.warmup_lr(k), 'cap')
        elif self.phase == 'decay':
            self._decay_step(k, loss)
        if self.phase == 'decay' and k >= self.cooldown_start:
            self._start_cooldown(k, self.lr(k))
        return decision

    def _decay_step(self, k: int, loss: Any) -> None:
        c = self.config
        if c.decay_phase_factor == 1.0:
            return
        if c.decay_phase_stat == 'loss':
            self._epoch_losses.append(loss)
        if k % self.steps_per_epoch:
            return
        if c.decay_phase_stat is None:
            self.reductions += 1
            return
        self._flush_epoch()
        vals = np.asarray(self._epoch_losses, dtype=float)
        vals = vals[np.isfinite(vals)]
        self._epoch_losses = []
        mean = float(vals.mean()) if vals.size else math.inf
        if mean < self._best * (1 - 1e-4):  # torch's ReduceLROnPlateau default: relative threshold 1e-4
            self._best, self._bad_epochs = mean, 0
        else:
            self._bad_epochs += 1
            if self._bad_epochs > c.decay_patience:
                self.reductions += 1
                self._bad_epochs = 0

    def _flush_epoch(self) -> None:
        if self._epoch_losses and any(hasattr(v, 'detach') for v in self._epoch_losses):
            self._epoch_losses = [float(v) for v in _as_floats(self._epoch_losses)]

    def _gp(self, hist: np.ndarray) -> Optional[gp.MinimumTest]:
        c = self.config
        try:
            return gp.minimum_test(hist, key=(c.seed, len(self.tests)), hyper=self.hyper, lengthscale=c.lengthscale,
                                   n_preds=c.n_preds, fit_points=c.fit_points, predict_points=c.predict_points,
                                   grid_points=c.grid_points, outlier_window=c.outlier_window,
                                   outlier_clip=math.inf if c.outlier_clip is None else c.outlier_clip)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):  # a degenerate history: no vote
            return None

    def _window_best(self, y: np.ndarray) -> tuple[float, int]:
        """Lowest median of ``w`` consecutive losses and its window's start, scanning only the windows that are
        new since the last test (the cache is a function of the history, so a resumed run rebuilds the same)."""
        w = self.config.blowup_window
        done, best, at = self._scan if self._scan is not None else (0, math.inf, 0)
        last = len(y) - w  # start of the newest complete window
        if last >= done:
            meds = np.median(np.lib.stride_tricks.sliding_window_view(y[done:], w), axis=1)
            j = int(np.argmin(meds))
            if meds[j] < best:
                best, at = float(meds[j]), done + j
            self._scan = (last + 1, best, at)
        return best, at

    def _blowup_onset(self, hist: np.ndarray) -> tuple[Optional[int], float, float]:
        """The blow-up rule (see the module docstring): ``(onset, B, theta - B)``. ``onset`` is ``None`` if the
        loss has not blown up, else the index of the first step of the blow-up (the history before it is what the
        switch LR is estimated from). ``B`` and the rise ``theta - B`` are ``inf`` while the rule has too few
        losses (or is off); rollback's health check reads them."""
        c = self.config
        w = c.blowup_window
        if c.blowup_fraction is None or len(hist) < 2 * w:
            return None, math.inf, math.inf
        y = np.where(np.isnan(hist), np.inf, hist)
        best, at = self._window_best(y)
        start, recent = float(np.median(y[:w])), float(np.median(y[-w:]))
        finite = hist[np.isfinite(hist)]
        sigma = 1.4826 * float(np.median(np.abs(np.diff(finite)))) / math.sqrt(2) if len(finite) > 2 else 0.0
        rise = max(c.blowup_fraction * (start - best), c.blowup_noise * sigma)
        if not (math.isfinite(best) and rise > 0):
            return None, math.inf, math.inf
        if recent < best + rise:
            return None, best, rise
        j0 = at + w // 2
        above = np.flatnonzero(y[j0:] >= best + rise)
        return (j0 + int(above[0]) if above.size else len(hist) - w), best, rise

    def _healthy(self, hist: np.ndarray, best: float, rise: float) -> bool:
        """Rollback may snapshot now: the losses since the last test are all finite, none at the blow-up
        threshold :math:`\theta = B + \text{rise}`, and their median within half the rise of the best (the smoothed
        loss is near the best so far). Before the rule has enough losses: all finite."""
        recent = hist[-min(self.interval, len(hist)):]
        if not np.all(np.isfinite(recent)):
            return False
        if not math.isfinite(rise):
            return True
        return bool(recent.max() < best + rise and np.median(recent) < best + rise / 2)

    def _restore_choice(self, hist: np.ndarray, best: float, rise: float) -> Optional[int]:
        """The latest snapshot whose weights went on to produce mostly healthy losses: the median of the
        ``blowup_window // 2`` losses from step ``s`` on (``hist[s]`` is the first loss of the weights after step
        ``s``; NaN/inf count as ``+inf``) is below the healthy level :math:`B + (\theta - B)/2`. A snapshot right at
        the edge (its weights blew up within a few steps) is passed over for the one before; a transient excursion
        long before does not disqualify a later snapshot. ``None`` if there is none."""
        theta = best + rise / 2 if math.isfinite(rise) else math.inf
        h = max(self.config.blowup_window // 2, 1)
        y = np.where(np.isfinite(hist), hist, np.inf)
        for s in reversed(self.snapshot_steps):
            if s < len(hist) and float(np.median(y[s:s + h])) < theta:
                return s
        return None

    def _test(self, k: int) -> Decision:
        self._flush()
        c = self.config
        hist = self._hist[:self._n]
        tail = hist[-c.nonfinite_patience:]
        nonfinite = len(tail) >= c.nonfinite_patience and not np.isfinite(tail).any()
        onset, best, rise = self._blowup_onset(hist)
        if onset is None and nonfinite:  # the trailing run of NaN/inf starts the blow-up
            finite = np.flatnonzero(np.isfinite(hist))  # O(N), once: the warm-up ends here anyway
            onset = int(finite[-1]) + 1 if finite.size else 0
        diverged = onset is not None
        healthy = self.rollback and not diverged and self._healthy(hist, best, rise)
        if c.warmup_only and not diverged:
            return Decision(False, 0.0, 'warmup_only', False, healthy=healthy)
        seen = hist[:onset] if diverged else hist  # after a blow-up, only the history before it
        res = self._gp(seen)
        span = max(len(seen) - 1, 1)
        lr_est = math.nan
        passed = False
        probs: tuple[float, ...] = ()
        if res is not None:
            self.hyper = res.hyper
            probs = res.probs
            votes = sum(p > c.confidence for p in probs)
            passed = votes > c.n_preds / 2
            lr_est = float(np.mean([self.warmup_lr(x * span) for x in res.x_star]))
        self.tests.append({'step': k, 'probs': [float(p) for p in probs], 'passed': bool(passed),
                           'lr': None if not math.isfinite(lr_est) else lr_est})
        if onset is not None:  # diverged
            finite = np.flatnonzero(np.isfinite(seen))
            if not finite.size:
                lr_est = c.min_lr
            else:
                if not math.isfinite(lr_est):
                    lr_est = self.warmup_lr(finite[np.argmin(seen[finite])])
                # never the LR where it blew up, and at most 1/backoff of it: the ramp has just shown that LR to be
                # past the edge of stability, and a held (then decayed) LR must sit well inside it
                lr_est = min(lr_est, self.warmup_lr(max(onset - 1, 0)), self.warmup_lr(onset) / c.blowup_backoff)
            restore = self._restore_choice(hist, best, rise) if self.rollback else None
            return Decision(True, lr_est, 'diverged', passed, probs, restore=restore)
        switch = passed and len(self.record) + 1 >= c.patience and all(self.record[len(self.record) + 1 - c.patience:])
        if switch and not math.isfinite(lr_est):
            switch = False
        restore = None
        if switch and self.rollback and self._far_from_best(hist, best, rise):
            restore = self._restore_choice(hist, best, rise)
        return Decision(switch, lr_est if switch else 0.0, 'test', passed, probs, healthy=healthy, restore=restore)

    def _far_from_best(self, hist: np.ndarray, best: float, rise: float) -> bool:
        """At a switch by test: the median of the last ``blowup_window`` losses is more than half the blow-up rise
        above the best (a partial blow-up the divergence rule has not called): rollback restores then too."""
        if not math.isfinite(rise):
            return False
        y = np.where(np.isfinite(hist), hist, np.inf)
        return float(np.median(y[-self.config.blowup_window:])) >= best + rise / 2

