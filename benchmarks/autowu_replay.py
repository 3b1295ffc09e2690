"""Replay harness for AutoWU: the same loss sequences fed to our engine and to a re-statement of the reference's
decision rule, side by side (switch step, reason, LR).

During the warm-up the LR is a fixed function of the step for both, so a recorded loss sequence replays exactly
what either algorithm would have seen until it switches. Sequences: synthetic curves with a clear minimum and
noise, spike then plateau, slow drift, NaN bursts, a NaN blow-up, and the real recorded digits run
(``tests/data/autowu/digits_cnn_spike_run.txt``). ``python -m benchmarks.autowu_replay`` (or ``make bench``,
through ``bench_autowu_replay.py``) prints the table; the tests import :func:`scenarios`, :func:`replay_ours` and
:func:`replay_reference`.

:class:`ReferenceAutoWU` re-states ``AutoWU`` of kakaobrain/autowu (``autowu.py``, commit 0760d21, and arXiv
2107.05855) for the warm-up phase only, written from its code and paper, without gpytorch: the same model
(``ConstantMean`` reset to the mean of the finite history at every test, ``ScaleKernel(RBF)`` with the lengthscale
fixed at 0.2, ``GaussianLikelihood`` with noise ``1e-4 + softplus(raw)`` initialised to 1e-3, outputscale
``softplus(raw)`` initialised to ``softplus(0)``), the same fit (100 steps of one persistent ``Adam(lr=0.01)`` on
``-ExactMarginalLogLikelihood`` averaged over <= 100 points drawn by ``torch.ones(n).multinomial(m)`` from one
generator seeded 0, inputs ``index / len(history)``, raw losses), the same 5 noise-free posteriors on
``linspace(0, 1, 500)`` from <= 500 points, the same closed-form ``max_i P(f_i < f_now)`` with its 1e-4 jitter, the
same votes (``p > 0.95`` by > 2.5 of 5, three passing tests in a row) and the same LR mapping
``min_lr * (lr_now / min_lr) ** x*``. Differences, all immaterial to the decision: float64 instead of float32; no
``NotPSDError`` retry (float64 Cholesky does not fail here); only the diagonal and last column of the posterior
covariance are formed (all the projection reads; ``tests/algorithms/autowu/test_autowu_gp.py`` checks the identity);
a posterior conditioned on the whole history (<= 500 points, so no draw) is computed once, not 5 times; the
fit's gradient in closed form, not by autograd (the same to ~1e-11 in every test's probabilities, every switch the
same).
"""
from __future__ import annotations

import collections
import dataclasses
import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from composer_sched.algorithms.autowu import gp
from composer_sched.algorithms.autowu.engine import AutoWUConfig, AutoWUEngine

RECORDED = Path(__file__).resolve().parents[1] / 'tests' / 'data' / 'autowu' / 'digits_cnn_spike_run.txt'


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A loss sequence and the warm-up it was recorded under (exponential ramp, one test every ``interval``)."""
    name: str
    losses: np.ndarray
    min_lr: float
    max_lr: float
    total_steps: int
    interval: int
    max_warmup_fraction: float = 0.5

    @property
    def cap(self) -> int:
        return int(self.total_steps * self.max_warmup_fraction)

    def lr(self, step: int) -> float:
        """LR in use at 1-indexed optimizer ``step`` of the warm-up (both algorithms agree)."""
        return self.min_lr * (self.max_lr / self.min_lr) ** ((step - 1) / self.cap)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Where a run switched: 1-indexed step, ``'test'`` / ``'diverged'`` / ``'cap'`` / ``'none'`` (sequence ended
    first) and the LR it decays from."""
    step: Optional[int]
    reason: str
    lr: Optional[float]


def _ramp_losses(sc_kwargs: dict, loss_of_lr, rng: np.random.Generator, noise: float) -> np.ndarray:
    w = int(sc_kwargs['total_steps'] * sc_kwargs.get('max_warmup_fraction', 0.5))
    lo, hi = sc_kwargs['min_lr'], sc_kwargs['max_lr']
    lrs = lo * (hi / lo) ** (np.arange(w) / w)
    return loss_of_lr(lrs) + noise * rng.standard_normal(w)


def clear_minimum(best: float = 1e-3, noise: float = 0.02, seed: int = 0, total_steps: int = 5000,
                  interval: int = 50) -> Scenario:
    """Quadratic in decades from ``best`` (a 5-decade ramp over half of ``total_steps``), Gaussian noise."""
    kw = dict(min_lr=1e-5, max_lr=1.0, total_steps=total_steps, interval=interval)
    y = _ramp_losses(kw, lambda lr: 1.0 + 0.5 * np.log10(lr / best) ** 2, np.random.default_rng(seed), noise)
    return Scenario(f'clear minimum {best:g}, noise {noise:g}, seed {seed}', y, **kw)


def _digits_like(seed: int, noise: float = 0.05) -> tuple[dict, np.ndarray]:
    """The digits test's ramp (1e-2 -> 10 over 180 of 240 steps, a test every 10): chance loss 2.30 until step 60,
    a fall to 0.6 at step 120, flat to 133."""
    kw = dict(min_lr=1e-2, max_lr=10.0, total_steps=240, interval=10, max_warmup_fraction=0.75)
    t = np.arange(180, dtype=float)
    base = np.where(t < 60, 2.30, np.where(t < 120, 0.6 + 1.7 * ((120 - t) / 60) ** 2, 0.6))
    return kw, base + noise * np.random.default_rng(seed).standard_normal(180)


def spike_then_plateau(seed: int = 0) -> Scenario:
    """The issue's synthetic case: minimum ~0.6 at step 120 of a 180-step cap, one spike to 20, then 2.30."""
    kw, y = _digits_like(seed)
    y[133] = 20.0
    y[134:] = 2.30 + 0.02 * np.random.default_rng(seed + 1000).standard_normal(180 - 134)
    return Scenario(f'spike then plateau, seed {seed}', y, **kw)


def slow_drift(seed: int = 0) -> Scenario:
    """No minimum: the loss drifts down from 2.3 to 1.5 over the whole warm-up (noise 0.05): both must run to the
    cap."""
    kw = dict(min_lr=1e-2, max_lr=10.0, total_steps=240, interval=10, max_warmup_fraction=0.75)
    y = np.linspace(2.3, 1.5, 180) + 0.05 * np.random.default_rng(seed).standard_normal(180)
    return Scenario(f'slow drift, seed {seed}', y, **kw)


def nan_bursts(seed: int = 0, total_steps: int = 5000, interval: int = 50) -> Scenario:
    """A clear minimum (1e-3) with bursts of 2 NaN losses every 37 steps: ignored by both, no divergence."""
    sc = clear_minimum(1e-3, 0.02, seed, total_steps, interval)
    y = sc.losses.copy()
    for s in range(20, len(y) - 1, 37):
        y[s:s + 2] = math.nan
    return dataclasses.replace(sc, name=f'NaN bursts, seed {seed}', losses=y)


def nan_blowup(seed: int = 0) -> Scenario:
    """The digits-like fall, then NaN from step 134 on (a blow-up to non-finite losses)."""
    kw, y = _digits_like(seed)
    y[133:] = math.nan
    return Scenario(f'NaN blow-up, seed {seed}', y, **kw)


def recorded_run() -> Scenario:
    """The real digits CNN run recorded on an Intel Xeon (see ``tests/data/autowu/README.md``)."""
    y = np.loadtxt(RECORDED, dtype=float)
    return Scenario('recorded digits run (Xeon)', y, min_lr=1e-2, max_lr=10.0, total_steps=240, interval=10,
                    max_warmup_fraction=0.75)


def scenarios(seeds: int = 1) -> list[Scenario]:
    out = []
    for s in range(seeds):
        out += [clear_minimum(1e-3, 0.02, s), clear_minimum(1e-2, 0.05, s), spike_then_plateau(s), slow_drift(s),
                nan_bursts(s), nan_blowup(s)]
    return out + [recorded_run()]


def first_blowup_step(sc: Scenario, window: int = 10) -> Optional[int]:
    """1-indexed first step after the lowest ``window``-median whose loss is above the starting loss (median of the
    first ``window``) or starts 3 NaN/inf in a row: where the loss first blew up (``None`` if it never did)."""
    bad = ~np.isfinite(sc.losses)
    run3 = bad & np.r_[bad[1:], False] & np.r_[bad[2:], False, False]  # a NaN/inf that starts 3 in a row
    y = np.where(bad, np.nan, sc.losses)  # an isolated NaN/inf is left out
    y[run3] = np.inf
    meds = np.nanmedian(np.lib.stride_tricks.sliding_window_view(y, window), axis=1)
    start = float(np.nanmedian(y[:window]))
    j0 = int(np.argmin(meds)) + window // 2
    above = np.flatnonzero(y[j0:] > start)
    return j0 + int(above[0]) + 1 if above.size else None


# ------------------------------------------------------------------------------------------------------ ours
def replay_ours(sc: Scenario, **options) -> Outcome:
    """Feed ``sc.losses`` to :class:`AutoWUEngine` (defaults: the reference's GP constants) until it switches."""
    config = AutoWUConfig(min_lr=sc.min_lr, max_lr=sc.max_lr, max_warmup_fraction=sc.max_warmup_fraction,
                          immediate_cooldown=True, test_interval=sc.interval, **options)
    eng = AutoWUEngine(config, sc.total_steps, sc.interval)
    for loss in sc.losses:
        eng.observe(float(loss))
        if eng.switch_step is not None:
            return Outcome(eng.switch_step, eng.switch_reason, eng.switch_lr)
    return Outcome(None, 'none', None)


# ------------------------------------------------------------------------------------------------- reference
def _softplus_inv(v: float) -> float:
    return v + math.log(-math.expm1(-v))


class ReferenceAutoWU:
    """The warm-up decision rule of kakaobrain/autowu's ``AutoWU`` (see the module docstring), one loss per
    :meth:`step`, one test every ``steps_per_epoch`` steps."""

    LENGTHSCALE, NOISE_FLOOR, N_TESTS, CONFIDENCE, PATIENCE = 0.2, 1e-4, 5, 0.95, 3

    def __init__(self, total_steps: int, steps_per_epoch: int, min_lr: float, max_lr: float,
                 max_warmup_fraction: float = 0.5):
        self.total_steps, self.steps_per_epoch = total_steps, steps_per_epoch
        self.min_lr, self.max_lr = min_lr, max_lr
        self.cap = int(total_steps * max_warmup_fraction)
        self.gamma = (max_lr / min_lr) ** (1 / self.cap)
        dt = torch.float64
        self.raw_noise = torch.tensor(_softplus_inv(1e-3 - self.NOISE_FLOOR), dtype=dt, requires_grad=True)
        self.mean = torch.tensor(0.0, dtype=dt, requires_grad=True)
        self.raw_scale = torch.tensor(0.0, dtype=dt, requires_grad=True)
        self.optim = torch.optim.Adam([self.raw_noise, self.mean, self.raw_scale], lr=0.01)
        self.generator = torch.Generator().manual_seed(0)
        self.data = torch.empty(0, dtype=dt)
        self.epoch: list[float] = []
        self.results: collections.deque = collections.deque(maxlen=self.PATIENCE)
        self.last_step = 0
        self.outcome: Optional[Outcome] = None
        self.probs: list[list[float]] = []

    def lr_now(self) -> float:
        """``get_last_lr()`` after ``last_step`` steps: the LR the step just taken used."""
        return self.min_lr * self.gamma ** (self.last_step - 1)

    def step(self, loss: float) -> Optional[Outcome]:
        if self.outcome is not None:
            return self.outcome
        self.last_step += 1
        if self.last_step >= self.cap:  # the loss of this step is not recorded
            self.outcome = Outcome(self.last_step, 'cap', self.lr_now())
            return self.outcome
        self.epoch.append(float(loss))
        if len(self.epoch) >= self.steps_per_epoch:
            self.data = torch.cat([self.data, torch.tensor(self.epoch, dtype=torch.float64)])
            self.epoch = []
            finite = self.data[torch.isfinite(self.data)]
            with torch.no_grad():
                self.mean.copy_(finite.mean())
            self._maybe_switch()
        return self.outcome

    def _subsample(self, cap: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.data)
        valid = torch.arange(n)[torch.isfinite(self.data)]
        if len(valid) > cap:
            sub = torch.ones(len(valid)).multinomial(cap, generator=self.generator).sort().values
            valid = valid[sub]
        return valid.to(torch.float64) / n, self.data[valid]

    def _kernel(self, a, b, scale):
        return scale * torch.exp(-0.5 * ((a[:, None] - b[None, :]) / self.LENGTHSCALE) ** 2)

    def _fit(self, x, y, iters: int = 100) -> None:
        # -ExactMarginalLogLikelihood / n = (r' K^-1 r / 2 + log|K| / 2 + n log(2 pi) / 2) / n, r = y - mean and
        # K = scale * R + noise * I: its gradient in closed form (what autograd computes through the Cholesky
        # factor, without its per-step overhead, ten times the cost of the fit's arithmetic at these sizes):
        # dK gives (K^-1 - a a') / 2 with a = K^-1 r, so d/dscale = <W, R> / 2, d/dnoise = tr W / 2 and
        # d/dmean = -sum(a), each over n; softplus' derivative as torch's (exp(v) / (exp(v) + 1), 1 past 20).
        n = len(x)
        rbf = self._kernel(x, x, 1.0)
        eye = torch.eye(n, dtype=x.dtype)

        def softplus_grad(v):
            z = torch.exp(v)
            return torch.where(v > 20, torch.ones_like(v), z / (z + 1))

        for _ in range(iters):
            self.optim.zero_grad()
            with torch.no_grad():
                noise = self.NOISE_FLOOR + torch.nn.functional.softplus(self.raw_noise)
                scale = torch.nn.functional.softplus(self.raw_scale)
                chol = torch.linalg.cholesky(scale * rbf + noise * eye)
                inv = torch.cholesky_inverse(chol)
                a = inv @ (y - self.mean)
                w = inv - torch.outer(a, a)
                self.raw_scale.grad = 0.5 * (w * rbf).sum() / n * softplus_grad(self.raw_scale)
                self.raw_noise.grad = 0.5 * torch.diagonal(w).sum() / n * softplus_grad(self.raw_noise)
                self.mean.grad = -a.sum() / n
            self.optim.step()

    @torch.no_grad()
    def _predict(self, x, y, grid):
        noise = self.NOISE_FLOOR + torch.nn.functional.softplus(self.raw_noise)
        scale = torch.nn.functional.softplus(self.raw_scale)
        k = self._kernel(x, x, scale) + noise * torch.eye(len(x), dtype=x.dtype)
        chol = torch.linalg.cholesky(k)
        ks = self._kernel(x, grid, scale)
        alpha = torch.cholesky_solve((y - self.mean)[:, None], chol)[:, 0]
        mu = self.mean + ks.T @ alpha
        v = torch.linalg.solve_triangular(chol, ks, upper=False)
        # the diagonal and last column of the posterior covariance: all the reference's projection reads
        var = scale - (v * v).sum(0)
        cov_last = self._kernel(grid, grid[-1:], scale)[:, 0] - v.T @ v[:, -1]
        return mu.numpy(), var.numpy(), cov_last.numpy()

    def _maybe_switch(self) -> None:
        x, y = self._subsample(100)
        self._fit(x, y)
        grid = torch.linspace(0, 1, 500, dtype=torch.float64)
        probs, stars = [], []
        whole = int(torch.isfinite(self.data).sum()) <= 500  # no subsampling: the 5 posteriors are identical
        for _ in range(self.N_TESTS):
            if whole and probs:
                probs.append(probs[0]), stars.append(stars[0])
                continue
            x, y = self._subsample(500)
            mu, var, cov_last = self._predict(x, y, grid)
            # the reference's [I, -1] projection of the covariance, plus 1e-4 on every difference's variance
            probs.append(gp.past_minimum_prob(mu, var, cov_last))
            stars.append(float(grid[int(np.argmin(mu))]))
        self.probs.append(probs)
        self.results.append(sum(p > self.CONFIDENCE for p in probs) > self.N_TESTS / 2)
        if sum(self.results) >= self.PATIENCE:
            lr_now = self.lr_now()
            lr = float(np.mean([self.min_lr * (lr_now / self.min_lr) ** s for s in stars]))
            self.outcome = Outcome(self.last_step, 'test', lr)


def replay_reference(sc: Scenario) -> Outcome:
    """Feed ``sc.losses`` to :class:`ReferenceAutoWU` until it switches."""
    ref = ReferenceAutoWU(sc.total_steps, sc.interval, sc.min_lr, sc.max_lr, sc.max_warmup_fraction)
    for loss in sc.losses:
        out = ref.step(float(loss))
        if out is not None:
            return out
    return Outcome(None, 'none', None)


# ------------------------------------------------------------------------------------------------------ table
def _fmt(o: Outcome) -> str:
    if o.step is None:
        return f'{"-":>5} {o.reason:<9} {"-":>9}'
    return f'{o.step:>5} {o.reason:<9} {o.lr:>9.3g}'


def table(items: list[Scenario]) -> list[tuple[Scenario, Outcome, Outcome]]:
    rows = [(sc, replay_ours(sc), replay_reference(sc)) for sc in items]
    print(f'{"sequence":<38} {"cap":>4} {"blew up at (LR)":>16} | {"ours: step reason LR":<25} | '
          f'{"reference: step reason LR":<25}')
    for sc, ours, ref in rows:
        b = first_blowup_step(sc)
        blow = '-' if b is None or b > sc.cap else f'{b} ({sc.lr(b):.3g})'
        print(f'{sc.name:<38} {sc.cap:>4} {blow:>16} | {_fmt(ours):<25} | {_fmt(ref):<25}')
    return rows


def main(seeds: int = 1) -> None:
    torch.set_num_threads(1)
    table(scenarios(seeds))


if __name__ == '__main__':
    main()
