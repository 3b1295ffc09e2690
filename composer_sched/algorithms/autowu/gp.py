r"""A small exact Gaussian process on a 1-D loss history, in numpy/scipy, and AutoWU's "minimum in the past" test.

Model (Kim et al. 2021, as in the reference implementation, without gpytorch):

.. math::
    y_j = f(x_j) + \varepsilon_j,\quad f \sim \mathcal{GP}\big(m,\ s^2 \exp(-(x - x')^2 / (2\ell^2))\big),\quad
    \varepsilon_j \sim \mathcal{N}(0, \sigma^2)

with the history index mapped to :math:`x \in [0, 1]` (1 is "now"), the lengthscale :math:`\ell` fixed (0.2) and
:math:`(m, s^2, \sigma^2)` fitted by maximising the marginal likelihood. Losses are standardised before fitting
(the test below is invariant to an affine change of the loss, and the noise floor becomes relative).

**Robustness.** Before fitting, each drawn loss is winsorised against the median of its own neighbourhood in the
history (``outlier_window`` steps either side): it is clipped to ``median +- outlier_clip * s``, with ``s`` the
robust (MAD) scale of the residuals from those medians. One spike (a loss of 20 among losses near 1) then weighs
like a loss a few noise widths above its neighbours, instead of forcing the marginal likelihood to explain it as
noise (which flattens the posterior and the test's probability to ~0.5); on a clean curve with Gaussian noise it
changes almost nothing (a residual beyond ~3.6 sd is rare).

Cost is bounded whatever the history length ``N``: the fit uses at most ``fit_points`` points and each posterior
at most ``predict_points`` points, chosen by stratified sampling (one random index per equal-width stratum of
``[0, N)``) from a counter-seeded generator, so every rank and every resumed run draws the same points.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg, optimize, special

__all__ = ['GPHyper', 'rbf', 'stratified_indices', 'fit_hyper', 'posterior', 'past_minimum_prob', 'winsorise',
           'MinimumTest', 'minimum_test', 'MinimumEstimate', 'estimate_minimum', 'MIN_POINTS']

#: Variance floor of the likelihood noise, in standardised units (gpytorch's default constraint is 1e-4).
NOISE_FLOOR = 1e-4
#: Added to the variance of each difference ``f_i - f_now`` (as the reference does) so a point can never be
#: "certainly" lower just because both variances vanish.
DIFF_JITTER = 1e-4
#: Fewer finite losses than this and the test does not pass (nothing to regress).
MIN_POINTS = 8
#: Winsorising defaults: neighbourhood half-width (steps) and clip width (robust sd units).
OUTLIER_WINDOW = 5
OUTLIER_CLIP = 4.0
_MAD_TO_SD = 1.4826
_LOG_2PI = math.log(2 * math.pi)
_BOUNDS = [(-10.0, 10.0), (math.log(1e-4), math.log(1e4)), (math.log(NOISE_FLOOR), math.log(1e2))]


@dataclasses.dataclass(frozen=True)
class GPHyper:
    """Fitted hyper-parameters in standardised units: constant mean ``m``, ``log s^2`` and ``log sigma^2``."""
    mean: float = 0.0
    log_scale: float = 0.0
    log_noise: float = math.log(1e-3)

    def as_array(self) -> np.ndarray:
        return np.array([self.mean, self.log_scale, self.log_noise], dtype=float)

    @classmethod
    def from_array(cls, a: Sequence[float]) -> 'GPHyper':
        # Clip into the box: a warm start from a checkpoint must be a valid starting point.
        vals = [min(max(float(v), lo), hi) for v, (lo, hi) in zip(a, _BOUNDS)]
        return cls(*vals)


def rbf(a: np.ndarray, b: np.ndarray, lengthscale: float) -> np.ndarray:
    r""":math:`R_{ij} = \exp(-(a_i - b_j)^2 / (2\ell^2))`."""
    d = (a[:, None] - b[None, :]) / lengthscale
    return np.exp(-0.5 * d * d)


def stratified_indices(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """``min(n, m)`` sorted distinct indices in ``[0, n)``: all of them if ``n <= m``, else one uniform draw in each
    of ``m`` equal-width strata. O(m), whatever ``n``."""
    if n <= m:
        return np.arange(n)
    edges = (np.arange(m + 1, dtype=np.int64) * n) // m
    width = np.diff(edges)
    return edges[:-1] + (rng.random(m) * width).astype(np.int64)


def _nll_and_grad(theta: np.ndarray, x: np.ndarray, y: np.ndarray, r: np.ndarray):
    """Negative log marginal likelihood of ``y`` and its gradient in ``(m, log s^2, log sigma^2)``."""
    m, a, b = theta
    s2, n2 = math.exp(a), math.exp(b)
    k = s2 * r
    k[np.diag_indices_from(k)] += n2
    try:
        c = linalg.cho_factor(k, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return 1e10, np.zeros(3)
    resid = y - m
    alpha = linalg.cho_solve(c, resid, check_finite=False)
    nll = 0.5 * resid @ alpha + np.log(np.diag(c[0])).sum() + 0.5 * len(y) * _LOG_2PI
    w = linalg.cho_solve(c, np.eye(len(y)), check_finite=False) - np.outer(alpha, alpha)
    grad = np.array([-alpha.sum(), 0.5 * s2 * (w * r).sum(), 0.5 * n2 * np.trace(w)])
    return float(nll), grad


def fit_hyper(x: np.ndarray, y: np.ndarray, lengthscale: float, init: Optional[GPHyper] = None,
              max_iter: int = 100) -> GPHyper:
    """Fit ``(m, s^2, sigma^2)`` to standardised ``y`` at ``x`` by L-BFGS-B on the exact marginal likelihood.

    Args:
        x, y: inputs in ``[0, 1]`` and finite standardised targets (at most ~100 points: cost is cubic).
        lengthscale: the fixed RBF lengthscale, ``> 0``.
        init: warm start (the previous test's fit), or the default.
        max_iter: L-BFGS-B iterations, ``>= 1``.

    Returns:
        The fitted :class:`GPHyper`; ``init`` unchanged if the optimiser produced a non-finite value.
    """
    init = init or GPHyper()
    r = rbf(x, x, lengthscale)
    res = optimize.minimize(_nll_and_grad, init.as_array(), args=(x, y, r), jac=True, method='L-BFGS-B',
                            bounds=_BOUNDS, options={'maxiter': int(max_iter)})
    return GPHyper.from_array(res.x) if np.all(np.isfinite(res.x)) else init


def posterior(x: np.ndarray, y: np.ndarray, grid: np.ndarray, hyper: GPHyper, lengthscale: float):
    r"""Posterior of the noise-free latent :math:`f` on ``grid``: its mean, its variance and its covariance with the
    last grid point (all the test needs; the full ``G x G`` covariance is never formed).

    .. math:: \mu = m + K_{*}K^{-1}(y - m),\quad \Sigma = s^2 R_{**} - K_* K^{-1} K_*^\top
    """
    s2, n2 = math.exp(hyper.log_scale), math.exp(hyper.log_noise)
    k = s2 * rbf(x, x, lengthscale)
    k[np.diag_indices_from(k)] += n2
    chol = linalg.cholesky(k, lower=True, check_finite=False)
    ks = s2 * rbf(x, grid, lengthscale)  # n x G
    alpha = linalg.cho_solve((chol, True), y - hyper.mean, check_finite=False)
    mu = hyper.mean + ks.T @ alpha
    v = linalg.solve_triangular(chol, ks, lower=True, check_finite=False)  # n x G
    var = s2 - np.einsum('ij,ij->j', v, v)
    cov_last = s2 * rbf(grid, grid[-1:], lengthscale)[:, 0] - v.T @ v[:, -1]
    return mu, var, cov_last


def past_minimum_prob(mu: np.ndarray, var: np.ndarray, cov_last: np.ndarray) -> float:
    r"""Probability that the latent curve was lower at some past grid point than now.

    With :math:`d_i = f_i - f_k` (:math:`k` the last grid point, "now"),
    :math:`d_i \sim \mathcal N(\mu_i - \mu_k,\ \Sigma_{ii} + \Sigma_{kk} - 2\Sigma_{ik} + 10^{-4})` and

    .. math:: p = \max_{i<k} \Phi\big(-(\mu_i - \mu_k) / \sigma_{d_i}\big)

    (closed form, no sampling). Returns 0.0 if nothing is finite.
    """
    dvar = var[:-1] + var[-1] - 2 * cov_last[:-1]
    dvar = np.maximum(dvar, 0.0) + DIFF_JITTER
    z = -(mu[:-1] - mu[-1]) / np.sqrt(dvar)
    p = special.ndtr(z)
    p = p[np.isfinite(p)]
    return float(p.max()) if p.size else 0.0


def _local_medians(history: np.ndarray, idx: np.ndarray, half_window: int) -> np.ndarray:
    """Median of the finite losses in ``history[i - h : i + h + 1]`` for each ``i`` in ``idx`` (NaN if none)."""
    n = len(history)
    offs = np.arange(-half_window, half_window + 1)
    pos = idx[:, None] + offs[None, :]
    inside = (pos >= 0) & (pos < n)
    vals = history[np.clip(pos, 0, n - 1)].astype(float)
    vals[~inside | ~np.isfinite(vals)] = np.nan
    out = np.full(len(idx), np.nan)
    ok = np.isfinite(vals).any(axis=1)
    if ok.any():
        out[ok] = np.nanmedian(vals[ok], axis=1)
    return out


def winsorise(history: np.ndarray, idx: np.ndarray, *, half_window: int = OUTLIER_WINDOW,
              clip: float = OUTLIER_CLIP, scale: Optional[float] = None) -> tuple[np.ndarray, float]:
    r"""The finite losses ``history[idx]`` clipped against their local medians.

    With :math:`m_i` the median of the finite losses within ``half_window`` steps of ``i`` (itself included) and
    :math:`s = 1.4826\,\mathrm{median}_i |y_i - m_i|` (the MAD scale of the residuals, over ``idx``):

    .. math:: \tilde y_i = \min(\max(y_i,\ m_i - c s),\ m_i + c s)

    Args:
        history: the whole loss history (NaN/inf allowed: they are ignored in the medians).
        idx: indices of finite losses to return, sorted.
        half_window: ``h >= 1``; a burst of up to ``h`` outliers in a row is still clipped.
        clip: ``c > 0``; ``math.inf`` returns the losses unchanged.
        scale: a given ``s`` (e.g. from an earlier draw, so all posteriors of a test use the same), or ``None``.

    Returns:
        ``(clipped losses, s)``.

    Example:
        >>> import numpy as np
        >>> h = np.array([1.0, 1.1, 0.9, 1.0, 20.0, 1.05, 0.95, 1.0, 1.1, 0.9])
        >>> y, s = winsorise(h, np.arange(10), half_window=2, clip=4.0)
        >>> bool(y[4] < 2.0), bool(np.allclose(np.delete(y, 4), np.delete(h, 4)))
        (True, True)
    """
    y = history[idx].astype(float)
    if not math.isfinite(clip) or len(idx) == 0:
        return y, math.inf if scale is None else scale
    med = _local_medians(history, idx, half_window)
    med = np.where(np.isfinite(med), med, y)
    if scale is None:
        scale = _MAD_TO_SD * float(np.median(np.abs(y - med)))
    return np.clip(y, med - clip * scale, med + clip * scale), scale


@dataclasses.dataclass(frozen=True)
class MinimumTest:
    """One test's outcome: per-posterior probabilities and minimiser positions in ``[0, 1]``, and the fit."""
    probs: tuple[float, ...]
    x_star: tuple[float, ...]
    hyper: GPHyper
    n_finite: int


def _one_blas_thread():
    """One BLAS thread for the test: it runs beside a training loop that owns the cores, and a contended
    multi-threaded BLAS on small matrices is several times slower than one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api='blas')


def minimum_test(history: np.ndarray, *, key: Sequence[int], hyper: Optional[GPHyper] = None,
                 lengthscale: float = 0.2, n_preds: int = 5, fit_points: int = 100, predict_points: int = 500,
                 grid_points: int = 500, fit_iter: int = 100, outlier_window: int = OUTLIER_WINDOW,
                 outlier_clip: float = OUTLIER_CLIP) -> Optional[MinimumTest]:
    """Regress the loss history and test whether its minimum lies in the past, ``n_preds`` times.

    Steps: winsorise every drawn loss (:func:`winsorise`; ``outlier_clip=math.inf`` turns it off); fit
    ``(m, s^2, sigma^2)`` on <= ``fit_points`` stratified points (warm-started from ``hyper``); then
    ``n_preds`` times condition on an independent <= ``predict_points`` stratified subsample, predict the latent
    curve on ``grid_points`` points of ``[0, 1]`` and record :func:`past_minimum_prob` and the argmin of the mean.
    Non-finite losses are dropped.

    Args:
        history: the per-step losses so far (index ``j`` -> ``x = j / (N - 1)``).
        key: integers seeding this test's generator (e.g. ``(seed, test_number)``): same key, same points.

    Returns:
        The outcome, or ``None`` when fewer than :data:`MIN_POINTS` finite losses can be drawn.
    """
    if len(history) < MIN_POINTS:
        return None
    with _one_blas_thread():
        return _minimum_test(np.asarray(history, dtype=float), key, hyper, lengthscale, n_preds, fit_points,
                             predict_points, grid_points, fit_iter, outlier_window, outlier_clip)


def _minimum_test(history, key, hyper, lengthscale, n_preds, fit_points, predict_points, grid_points, fit_iter,
                  outlier_window, outlier_clip):
    n = len(history)
    span = float(n - 1)
    rng = np.random.default_rng([int(k) for k in key])
    scale_box: list[Optional[float]] = [None]  # the fit draw's robust scale, reused by every posterior draw

    def draw(m: int):
        idx = stratified_indices(n, m, rng)
        idx = idx[np.isfinite(history[idx])]
        y, scale_box[0] = winsorise(history, idx, half_window=outlier_window, clip=outlier_clip,
                                    scale=scale_box[0])
        return idx / span, y

    x_fit, y_fit = draw(fit_points)
    if len(y_fit) < MIN_POINTS:
        return None
    center = float(y_fit.mean())
    scale = float(y_fit.std())
    scale = scale if scale > 1e-12 * max(1.0, abs(center)) else 1.0
    fitted = fit_hyper(x_fit, (y_fit - center) / scale, lengthscale, hyper, fit_iter)

    grid = np.linspace(0.0, 1.0, grid_points)
    probs, stars, n_used = [], [], len(y_fit)
    cached = None
    for _ in range(n_preds):
        if n <= predict_points and cached is not None:  # the whole history: every posterior is the same
            probs.append(cached[0])
            stars.append(cached[1])
            continue
        x, y = draw(predict_points)
        if len(y) < MIN_POINTS:
            continue
        n_used = max(n_used, len(y))
        mu, var, cov_last = posterior(x, (y - center) / scale, grid, fitted, lengthscale)
        cached = (past_minimum_prob(mu, var, cov_last), float(grid[int(np.argmin(mu))]))
        probs.append(cached[0])
        stars.append(cached[1])
    if not probs:
        return None
    return MinimumTest(tuple(probs), tuple(stars), fitted, n_used)


@dataclasses.dataclass(frozen=True)
class MinimumEstimate:
    """Where the GP puts the minimum of a loss recorded against the LR (see :func:`estimate_minimum`).

    Attributes:
        lr: the LR at the posterior mean's minimum.
        lr_low, lr_high: the band: the contiguous LR range around ``lr`` whose posterior mean is within ``z``
            standard deviations of the difference from the minimum's (LRs the GP cannot tell apart from it).
        p_past: :func:`past_minimum_prob` at the largest LR: near 1, the record went past the minimum.
        hyper: the fitted hyper-parameters (standardised units).
        x: the posterior grid, ``grid_points`` positions in ``[0, 1]`` along the record (see ``along``).
        mean, sd: the posterior mean and standard deviation of the noise-free loss curve on ``x``, in loss units.
        grid_lrs: the LR at each grid position.
        k: the index of the minimum on the grid (``grid_lrs[k] == lr``).
    """
    lr: float
    lr_low: float
    lr_high: float
    p_past: float
    hyper: GPHyper
    x: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0), repr=False)
    mean: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0), repr=False)
    sd: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0), repr=False)
    grid_lrs: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0), repr=False)
    k: int = 0


def _interp_lr(lrs: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The LR at fractional record indices ``pos``: geometric interpolation between neighbouring (positive) LRs."""
    pos = np.clip(pos, 0.0, len(lrs) - 1.0)
    i = np.minimum(pos.astype(np.int64), len(lrs) - 2)
    t = pos - i
    return np.exp((1 - t) * np.log(lrs[i]) + t * np.log(lrs[i + 1]))


def estimate_minimum(lrs: ArrayLike, losses: ArrayLike, *, lengthscale: float = 0.2, z: float = 1.0,
                     fit_points: int = 100, predict_points: int = 500, grid_points: int = 500,
                     outlier_window: int = OUTLIER_WINDOW, outlier_clip: float = OUTLIER_CLIP,
                     seed: int = 0, along: str = 'log_lr') -> Optional[MinimumEstimate]:
    r"""Fit the robust GP to a ``(LR, loss)`` record and return the LR at the estimated minimum, with a band and the
    posterior it was read from.

    Positions: with ``along='log_lr'`` the record is sorted by LR and
    :math:`x = (\log\eta - \log\eta_{min}) / (\log\eta_{max} - \log\eta_{min})`; with ``along='index'`` (an
    LR range test's record, in ramp order, whatever the ramp's shape) :math:`x = i / (n - 1)` and the LR at a
    grid point is interpolated geometrically between records. Losses are winsorised against their neighbours'
    median (:func:`winsorise`), standardised, and a GP with a fixed-``lengthscale`` RBF kernel is fitted
    (:func:`fit_hyper`, <= ``fit_points`` points) and conditioned (<= ``predict_points`` points). With
    :math:`\mu, \Sigma` the posterior of the noise-free curve on ``grid_points`` points and
    :math:`x^* = \arg\min \mu`, the estimate is :math:`\eta(x^*)` and the band is the contiguous run of grid
    points around :math:`x^*` with :math:`\mu(x) - \mu(x^*) \le z \sqrt{\Sigma_{xx} + \Sigma_{x^*x^*} -
    2\Sigma_{xx^*}}`.

    Args:
        lrs: positive LRs (any order with ``'log_lr'``; equal LRs allowed).
        losses: the loss at each LR (NaN/inf are dropped).
        lengthscale: ``> 0``, in units of the record's span (log-LR range or index range).
        z: band half-width in standard deviations, ``> 0``.
        fit_points, predict_points, grid_points: ``>= 8``.
        outlier_window, outlier_clip: see :func:`winsorise` (``outlier_clip=math.inf``: no winsorising).
        seed: seeds the subsampling of records longer than ``predict_points``.
        along: ``'log_lr'`` (default) or ``'index'``.

    Returns:
        The :class:`MinimumEstimate`, or ``None`` with fewer than :data:`MIN_POINTS` finite losses or a single LR.

    Raises:
        ValueError: ``lrs`` and ``losses`` differ in length, an LR is not positive and finite, or ``along`` is
            neither ``'log_lr'`` nor ``'index'``.

    Example:
        >>> import numpy as np
        >>> lrs = np.logspace(-4, 0, 200)
        >>> loss = 1 + (np.log10(lrs) + 2) ** 2 + 0.01 * np.random.default_rng(0).standard_normal(200)
        >>> est = estimate_minimum(lrs, loss)
        >>> bool(abs(np.log10(est.lr) + 2) < 0.1 and est.lr_low <= est.lr <= est.lr_high), est.p_past > 0.95
        (True, True)
        >>> bool(abs(est.mean[est.k] - 1) < 0.05 and est.sd.shape == (500,))
        True
    """
    lr = np.asarray(lrs, dtype=float)
    y = np.asarray(losses, dtype=float)
    if along not in ('log_lr', 'index'):
        raise ValueError(f"along={along!r} is not allowed: along must be 'log_lr' or 'index'.")
    if lr.shape != y.shape or lr.ndim != 1:
        raise ValueError(f'lrs and losses must be 1-D of the same length, got {lr.shape} and {y.shape}.')
    if not np.all(np.isfinite(lr) & (lr > 0)):
        raise ValueError('lrs must be positive and finite (the GP works in log LR).')
    n = len(y)
    if along == 'log_lr':
        order = np.argsort(lr, kind='stable')
        lr, y = lr[order], y[order]
        pos = np.log(lr)
    else:
        pos = np.arange(n, dtype=float)
    lo, hi = (float(pos[0]), float(pos[-1])) if n else (0.0, 0.0)
    if np.isfinite(y).sum() < MIN_POINTS or hi <= lo:
        return None
    with _one_blas_thread():
        rng = np.random.default_rng([int(seed), n])
        scale_box: list[Optional[float]] = [None]

        def draw(m: int):
            idx = stratified_indices(n, m, rng)
            idx = idx[np.isfinite(y[idx])]
            vals, scale_box[0] = winsorise(y, idx, half_window=outlier_window, clip=outlier_clip,
                                           scale=scale_box[0])
            return (pos[idx] - lo) / (hi - lo), vals

        x_fit, y_fit = draw(fit_points)
        center, spread = float(y_fit.mean()), float(y_fit.std())
        spread = spread if spread > 1e-12 * max(1.0, abs(center)) else 1.0
        hyper = fit_hyper(x_fit, (y_fit - center) / spread, lengthscale)
        x, yy = draw(predict_points) if n > fit_points else (x_fit, y_fit)
        grid = np.linspace(0.0, 1.0, grid_points)
        mu, var, cov_last = posterior(x, (yy - center) / spread, grid, hyper, lengthscale)
        p_past = past_minimum_prob(mu, var, cov_last)
        k = int(np.argmin(mu))
        s2 = math.exp(hyper.log_scale)
        # covariance of every grid point with the minimum's: the same algebra as posterior()'s last column
        noisy = s2 * rbf(x, x, lengthscale)
        noisy[np.diag_indices_from(noisy)] += math.exp(hyper.log_noise)
        chol = linalg.cholesky(noisy, lower=True, check_finite=False)
        v = linalg.solve_triangular(chol, s2 * rbf(x, grid, lengthscale), lower=True, check_finite=False)
        cov_k = s2 * rbf(grid, grid[k:k + 1], lengthscale)[:, 0] - v.T @ v[:, k]
    dsd = np.sqrt(np.maximum(var + var[k] - 2 * cov_k, 0.0) + DIFF_JITTER)
    close = mu - mu[k] <= z * dsd
    a = b = k
    while a > 0 and close[a - 1]:
        a -= 1
    while b < grid_points - 1 and close[b + 1]:
        b += 1
    if along == 'log_lr':
        grid_lrs = np.exp(lo + grid * (hi - lo))
    else:
        grid_lrs = _interp_lr(lr, grid * (n - 1))
    return MinimumEstimate(lr=float(grid_lrs[k]), lr_low=float(grid_lrs[a]), lr_high=float(grid_lrs[b]),
                           p_past=float(p_past), hyper=hyper, x=grid, mean=center + spread * mu,
                           sd=spread * np.sqrt(np.maximum(var, 0.0)), grid_lrs=grid_lrs, k=k)
