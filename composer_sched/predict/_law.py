"""What both loss laws share: the robust objective, the candidate fits, the band and the prediction record."""
from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike

from composer_sched.predict._runs import Run
from composer_sched.predict._shape import analyse_schedule, check_target

__all__ = ['Candidate', 'LawFit', 'MetricMap', 'Prediction', 'huber']


def lr_drops(lr):
    r"""The LR divided by its peak, :math:`\eta_i`; its running sum :math:`S_1` (with a leading 0); and the
    per-batch drop after the peak, :math:`\eta_{i-1} - \eta_i` (0 up to and at the peak). Both laws start here.

    Raises:
        ValueError: ``lr`` is not a non-empty 1-D finite array with a positive peak.

    Example:
        >>> eta, S1, drop = lr_drops([2.0, 2.0, 1.0, 0.0])
        >>> eta.tolist(), S1.tolist(), drop.tolist()
        ([1.0, 1.0, 0.5, 0.0], [0.0, 1.0, 2.0, 2.5, 2.5], [0.0, 0.0, 0.5, 0.5])
    """
    eta = np.asarray(lr, dtype=float)
    if eta.ndim != 1 or eta.size == 0 or not np.all(np.isfinite(eta)) or eta.max() <= 0:
        raise ValueError(f'lr must be a non-empty 1-D finite array with a positive peak, got shape {eta.shape}')
    eta = eta / eta.max()
    peak = int(np.argmax(eta >= 1 - 1e-6))
    drop = np.zeros_like(eta)
    drop[peak + 1:] = eta[peak:-1] - eta[peak + 1:]
    return eta, np.r_[0.0, np.cumsum(eta)], drop


def huber(r: np.ndarray, delta: float):
    """Huber loss of residuals ``r`` divided by ``delta**2`` (so its scale does not depend on ``delta``), and its
    derivative."""
    a = np.abs(r)
    d2 = delta ** 2
    value = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)) / d2
    # np.clip's wrapper costs more than its work on a few hundred residuals; the optimizers call this thousands of times
    return value, np.minimum(np.maximum(r, -delta), delta) / d2


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One converged fit: its objective (mean Huber loss of log-loss residuals, over ``delta**2``) and its
    parameters."""
    objective: float
    params: Dict[str, float]


@dataclasses.dataclass(frozen=True)
class Prediction:
    """A predicted end-of-run loss with its prediction interval and, when the fitted runs allow, its
    final-evaluation and metric counterparts.

    Attributes:
        law: ``'momentum'`` or ``'multi_power'``.
        loss: the best fit's value after the target's last batch, on the scale of the fitted loss history (> 0).
        low, high: the prediction interval at ``coverage`` (see :meth:`LawFit.predict`): ``0 < low <= loss <=
            high``. It is meant to hold the measured loss with probability ``coverage``, calibrated on backtests;
            it does not cover another recipe, another data set or a schedule the refusal rule lets through but
            the law cannot describe.
        coverage: the interval's nominal coverage (default 0.8).
        n_fits: how many candidate fits explain the data about equally well (objective within
            ``(1 + band_tol)`` of the best); ``fits_low, fits_high``: the range of their predictions, which the
            interval always contains.
        final_loss, final_low, final_high: the same on the scale of the runs' ``final_loss`` (plus the mean offset
            ``final_loss - law(end)`` over the fitted runs that have one); None without.
        metric, metric_low, metric_high: the secondary metric from ``loss`` through the monotone map fitted on the
            runs' (eval loss, metric) pairs (see :class:`MetricMap`), its interval the map's image of the loss
            interval; None without a metric history.
        metric_extrapolated: the predicted loss lies outside the losses the map saw (the map is flat there).
        warnings: why the fitted runs are doubtful (a diverged run, a loss rising at the end: ``Run.health``).
    """
    law: str
    loss: float
    low: float
    high: float
    n_fits: int
    coverage: float = 0.8
    fits_low: Optional[float] = None
    fits_high: Optional[float] = None
    final_loss: Optional[float] = None
    final_low: Optional[float] = None
    final_high: Optional[float] = None
    metric: Optional[float] = None
    metric_low: Optional[float] = None
    metric_high: Optional[float] = None
    metric_extrapolated: bool = False
    warnings: Tuple[str, ...] = ()


class MetricMap:
    r"""A monotone map from eval loss to a secondary metric (e.g. accuracy), fitted on observed pairs.

    Isotonic regression (scikit-learn, direction chosen from the data, flat beyond the observed losses) of the
    metric on the loss. Its spread :math:`s` is the 90th percentile of :math:`|m_i - f(\ell_i)|` over the observed
    pairs; the band of a loss band :math:`[\ell_-, \ell_+]` is :math:`[\min f - s, \max f + s]` over
    :math:`f(\ell_-), f(\ell_+)`. The loss laws were derived for language-model cross-entropy; the map only
    assumes the metric moves monotonically with that loss on the observed run.

    Example:
        >>> m = MetricMap([3.0, 2.9, 2.8, 2.7], [0.40, 0.42, 0.43, 0.45])
        >>> round(m(2.85), 3), m.band(2.8, 2.9)
        (0.425, (0.42, 0.43))
    """

    def __init__(self, loss: ArrayLike, metric: ArrayLike):
        from sklearn.isotonic import IsotonicRegression

        loss, metric = np.asarray(loss, dtype=float), np.asarray(metric, dtype=float)
        if loss.size < 3 or loss.shape != metric.shape:
            raise ValueError(f'MetricMap needs at least 3 (loss, metric) pairs of equal length, got {loss.size}')
        self._iso = IsotonicRegression(increasing='auto', out_of_bounds='clip').fit(loss, metric)
        self.range = (float(loss.min()), float(loss.max()))
        self.spread = float(np.quantile(np.abs(metric - self._iso.predict(loss)), 0.9))

    def __call__(self, loss: float) -> float:
        return float(self._iso.predict([loss])[0])

    def band(self, low: float, high: float):
        ends = (self(low), self(high))
        return round(min(ends) - self.spread, 12), round(max(ends) + self.spread, 12)


#: The interval's default spread per unit of extrapolation distance (relative error per e-fold of run length),
#: calibrated by leave-one-run-out backtests on the shared real logs (``composer_sched/predict/README.md``).
SPREAD_PER_EFOLD = 0.0028
#: The distance a target at a fitted run's own length counts as (a fitted run's end is still a prediction of
#: its final evaluation, and seeds differ).
MIN_DISTANCE = 0.25


def check_knobs(**knobs) -> None:
    """Validate the fitting knobs every law shares (finite, in range), naming the first bad one.

    Example:
        >>> check_knobs(band_tol=0.25, max_extrapolation=2.0)
        >>> check_knobs(max_extrapolation=float('nan'))
        Traceback (most recent call last):
        ...
        ValueError: max_extrapolation must be a finite number >= 1, got nan
    """
    rules = {'huber_delta': (lambda v: v > 0, '> 0'), 'skip': (lambda v: 0 <= v < 1, 'in [0, 1)'),
             'band_tol': (lambda v: v >= 0, '>= 0'), 'max_extrapolation': (lambda v: v >= 1, '>= 1'),
             'gamma_step': (lambda v: 0 <= v <= 1, 'in [0, 1]'), 'coverage': (lambda v: 0 < v < 1, 'in (0, 1)'),
             'spread': (lambda v: v >= 0, '>= 0')}
    for name, value in knobs.items():
        ok, allowed = rules[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value) or not ok(value):
            raise ValueError(f'{name} must be a finite number {allowed}, got {value!r}')


_BLAS = None  # threadpoolctl's view of the loaded BLAS libraries, found at the first fit (that takes ~30 ms)


def one_blas_thread():
    """A context in which BLAS runs on one thread (a no-op without threadpoolctl, which scikit-learn brings).

    The fits make thousands of BLAS calls on a few numbers each (L-BFGS-B's and least squares' small matrices); a
    multi-threaded BLAS wakes its threads for them and spins them after, which on a machine whose cores are busy
    made a fit several times slower (an L-BFGS-B run of the momentum law: 370 ms with 2 threads on the loaded
    2-core test machine, 40 ms with one). The results are the same.

    Example:
        >>> from threadpoolctl import threadpool_info
        >>> with one_blas_thread():
        ...     all(lib['num_threads'] == 1 for lib in threadpool_info() if lib['user_api'] == 'blas')
        True
    """
    global _BLAS
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn, a dependency
        return contextlib.nullcontext()
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api='blas')


def _normal_quantile(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(p))


class LawFit:
    """A fitted loss law: the best fit and every other candidate, ready to predict other schedules.

    Subclasses define ``law`` and ``curve``. Build them with :func:`fit_momentum_law` or
    :func:`fit_multi_power_law`.

    Attributes:
        runs: the fitted runs; ``first_step``: the first loss point the law was fitted on (a target ending
            earlier is refused); ``noise``: the scatter of the best fit's log residuals, inflated where they are
            autocorrelated (:func:`residual_noise`); ``autocorrelation``: theirs at lag 1 (``misfit``: it is at
            least :data:`MISFIT_AUTOCORRELATION`);
        spread: the interval's relative error per e-fold of extrapolation (:data:`SPREAD_PER_EFOLD` unless
            :meth:`with_spread` set it, e.g. from a backtest); ``warnings``: the fitted runs' ``health()``.
    """
    law = ''
    #: Whether refusal rule 7 (a decay over the whole run only near the fitted horizons) applies to this law.
    horizons = True

    def __init__(self, runs: Sequence[Run], candidates: List[Candidate], *, scale: float, band_tol: float,
                 max_extrapolation: float, skip: float = 0.05):
        check_knobs(band_tol=band_tol, max_extrapolation=max_extrapolation, skip=skip)
        self.runs = tuple(runs)
        self.candidates = sorted((c for c in candidates if np.isfinite(c.objective)), key=lambda c: c.objective)
        if not self.candidates:
            raise ValueError('no fit converged to a finite objective: check that the losses are positive and vary')
        self.scale = scale
        self.band_tol = band_tol
        self.max_extrapolation = max_extrapolation
        self.skip = skip
        points = fit_points(self.runs, skip)
        self.first_step = int(min(st[0] for st, _ in points if st.size))
        per_run = [np.log(np.maximum(self._curve(r.lr, st), 1e-12)) - np.log(y)
                   for r, (st, y) in zip(self.runs, points) if st.size]
        self.noise = residual_noise(per_run)
        self.autocorrelation = residual_autocorrelation(per_run)
        self.spread = SPREAD_PER_EFOLD
        self.anchor: Optional[Tuple[Run, float]] = None
        self.warnings = tuple(w for r in self.runs for w in r.health())
        pairs = [r.metric_pairs() for r in self.runs] or [(np.empty(0), np.empty(0))]
        loss, metric = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
        self.metric_map = MetricMap(loss, metric) if loss.size >= 3 else None

    @property
    def misfit(self) -> bool:
        """Whether the law misses the shape of the fitted runs: its residuals' lag-1 autocorrelation
        (``autocorrelation``) is at least :data:`MISFIT_AUTOCORRELATION`, i.e. they stay on one side of the
        curve for many points. Its predictions are then an extrapolation of a curve the runs do not follow; the
        sweep uses a baseline instead (flagged)."""
        return self.autocorrelation >= MISFIT_AUTOCORRELATION

    @property
    def best(self) -> Candidate:
        """The candidate with the lowest objective."""
        return self.candidates[0]

    @property
    def band_candidates(self) -> List[Candidate]:
        """Every candidate whose objective is within ``(1 + band_tol)`` of the best: they explain the data about
        equally well."""
        limit = self.best.objective * (1 + self.band_tol) + 1e-12
        return [c for c in self.candidates if c.objective <= limit]

    def with_spread(self, spread: float) -> 'LawFit':
        """A copy of this fit whose intervals use ``spread`` (relative error per e-fold of extrapolation, ``>= 0``),
        e.g. the one a backtest on the user's own runs measured (:func:`composer_sched.predict.backtest`).

        Raises:
            ValueError: ``spread`` is not a finite number ``>= 0``.
        """
        check_knobs(spread=spread)
        import copy

        out = copy.copy(self)
        out.spread = float(spread)
        return out

    def _curve(self, lr, steps, params: Optional[Dict[str, float]] = None) -> np.ndarray:
        raise NotImplementedError

    @property
    def fitted_runs(self) -> Tuple[Run, ...]:
        """The runs this fit rests on: the fitted ones and the anchor (:meth:`anchored`)."""
        return self.runs + ((self.anchor[0],) if self.anchor else ())

    def anchored(self, anchor: Run) -> 'LawFit':
        r"""A copy of this fit corrected by a trained shorter run of the same recipe, the *anchor*.

        The law is not refitted: the anchor's relative residual :math:`c = \log(L_A / \hat L_A)` (on the final
        evaluation's scale when the anchor and the fitted runs have ``final_loss``, else at its last loss point)
        corrects every prediction by :math:`\exp(c\,w)`, :math:`w = \log(T/T_0) / \log(T_A/T_0)` clipped to
        ``[0, 1]`` (:math:`T_0` the longest fitted run: the full correction at the anchor's length, none at the
        fitted run's). So the anchor can only move a prediction towards what the anchor measured, and the
        targets it may speak for are the fitted runs' and its own.

        Raises:
            ValueError: the fit has an anchor already, the anchor is not a :class:`Run` of this recipe shorter than
                the longest fitted run, or the law cannot predict it.
        """
        import copy

        if self.anchor is not None or not isinstance(anchor, Run):
            raise ValueError('anchor must be one Run, on a fit without an anchor')
        longest = max(r.shape.length for r in self.runs)
        if anchor.shape.length >= longest:
            raise ValueError(f'anchor: {anchor.name} ({anchor.shape.length} batches) must be shorter than the longest '
                             f'fitted run ({longest} batches)')
        steps, loss = anchor.points()
        final = anchor.final_loss is not None and all(r.final_loss is not None for r in self.runs)
        p = self.predict(anchor.lr, name='anchor', at=None if final else int(steps[-1]))
        measured, pred = (anchor.final_loss, p.final_loss) if final else (float(loss[-1]), p.loss)
        assert measured is not None and pred is not None
        out = copy.copy(self)
        out.anchor = (anchor, math.log(measured / pred))
        out.warnings = self.warnings + anchor.health()
        return out

    def _correction(self, length: int) -> float:
        if self.anchor is None:
            return 1.0
        run, c = self.anchor
        t0 = max(r.shape.length for r in self.runs)
        w = math.log(length / t0) / math.log(run.shape.length / t0)
        return math.exp(c * min(1.0, max(0.0, w)))

    def check(self, lr, *, name: str = 'lr'):
        """Refuse a schedule the fit cannot speak for (:func:`check_target`'s rule, and a target ending before the
        first fitted loss point); returns its :class:`ScheduleShape`.

        Raises:
            ValueError: naming ``name`` and the rule that fired, with its numbers.
        """
        shape = analyse_schedule(lr, name=name)
        check_target(shape, [r.shape for r in self.fitted_runs], max_extrapolation=self.max_extrapolation, name=name,
                     horizons=self.horizons)
        if shape.length < self.first_step:
            raise ValueError(f'{name}: it ends after {shape.length} batches, before the first loss point the law was '
                             f'fitted on (batch {self.first_step}: the points of the first skip={self.skip} of the '
                             'longest run and of the warm-up are left out); the laws do not describe the start of '
                             'training')
        return shape

    def curve(self, lr, steps, params: Optional[Dict[str, float]] = None) -> np.ndarray:
        """The law's loss after ``steps`` batches of a run with per-batch LR ``lr`` (best fit by default).

        ``lr`` must be a schedule :meth:`predict` accepts, and ``steps`` whole numbers of batches in
        ``[first_step, len(lr)]``.

        Raises:
            ValueError: as :meth:`predict`, or ``steps`` outside that range.
        """
        self.check(lr)
        st = np.asarray(steps)
        if st.size and (not np.all(np.isfinite(st)) or np.any(np.mod(st, 1) != 0) or st.min() < self.first_step
                        or st.max() > len(lr)):
            raise ValueError(f'steps must be whole batch counts in [{self.first_step}, {len(lr)}] (from the first '
                             f'fitted loss point to the end of lr), got range [{st.min()}, {st.max()}]')
        return self._curve(lr, st.astype(np.int64), params)

    def end_values(self, lr, candidates: Sequence[Candidate], at: Optional[int] = None) -> np.ndarray:
        """Each candidate's loss after ``at`` (default: all) batches of ``lr`` (subclasses may share work between
        candidates)."""
        at = len(lr) if at is None else at
        return np.array([float(self._curve(lr, [at], c.params)[0]) for c in candidates])

    def _offsets(self, candidates: Sequence[Candidate]) -> Optional[np.ndarray]:
        """Each candidate's mean ``final_loss - law(end)`` over the fitted runs that have a final loss."""
        runs = [r for r in self.runs if r.final_loss is not None]
        if not runs:
            return None
        return np.mean([r.final_loss - self.end_values(r.lr, candidates) for r in runs], axis=0)

    def distance(self, shape) -> float:
        """How far a target is from the fitted runs: ``|log(T / T_f)|`` to the closest fitted length ``T_f``, at
        least :data:`MIN_DISTANCE` (the interval's spread grows with it)."""
        return max(MIN_DISTANCE, min(abs(math.log(shape.length / r.shape.length)) for r in self.fitted_runs))

    def half_width(self, shape, coverage: float = 0.8) -> float:
        r"""The interval's half-width in log-loss: :math:`z_{(1+c)/2} \sqrt{\sigma_n^2 + (s\,d)^2}`, with
        :math:`\sigma_n` the fit's residual noise, :math:`s` the spread per e-fold and :math:`d` the distance."""
        check_knobs(coverage=coverage)
        return _normal_quantile((1 + coverage) / 2) * math.hypot(self.noise, self.spread * self.distance(shape))

    def predict(self, lr, *, name: str = 'lr', coverage: float = 0.8, at: Optional[int] = None) -> Prediction:
        """Predict the loss after the last batch (or ``at`` batches) of a schedule ``lr`` (per-batch LR on the fitted
        runs' scale).

        The interval is ``loss * exp(+-h)`` with ``h`` from :meth:`half_width` (a normal quantile of the
        relative error, its spread calibrated on backtests, growing with the distance in log length from the
        fitted runs), widened to contain every candidate fit's prediction.

        Args:
            lr: the target's LR of every batch, on the same scale as the fitted runs' (same peak).
            name: the argument's name in error messages.
            coverage: the interval's nominal coverage, in ``(0, 1)`` (default 0.8).
            at: read the loss after this many batches, in ``[first_step, len(lr)]`` (default ``len(lr)``), e.g.
                the last logged step of a run to compare with (``final_*`` then still uses the end's offset).

        Returns:
            A :class:`Prediction`: ``0 < low <= loss <= high``, all finite.

        Raises:
            ValueError: ``lr`` is not a schedule the fitted runs can speak for (the rule is
                :func:`composer_sched.predict.check_target`'s, plus: not ending before the first fitted loss
                point), or the law gives no positive finite loss there (an extrapolation it cannot make).

        Example:
            >>> import numpy as np
            >>> from composer_sched.predict import Run, fit_momentum_law, momentum_law
            >>> lr = np.r_[np.ones(800), np.linspace(1, 0, 201)[1:]]
            >>> steps = np.arange(50, 1001, 50)
            >>> loss = momentum_law(lr, steps, L0=2, A=0.5, alpha=0.5, C=2, lam=0.99, scale=1000)
            >>> fit = fit_momentum_law([Run(lr, eval_loss=(steps, loss), eval_metric=(steps, 1 - loss / 5))])
            >>> p = fit.predict(np.r_[np.ones(400), np.linspace(1, 0, 101)[1:]])
            >>> round(p.loss, 2), 0 < p.low <= p.loss <= p.high, round(p.metric, 2)
            (2.67, True, 0.47)
            >>> fit.predict(np.r_[np.ones(400), np.linspace(1, 0, 100), np.ones(100)])
            Traceback (most recent call last):
            ...
            ValueError: lr rises again at batch 500 ...
        """
        check_knobs(coverage=coverage)
        shape = self.check(lr, name=name)
        if at is not None and not (isinstance(at, (int, np.integer)) and self.first_step <= at <= shape.length):
            raise ValueError(f'at must be a whole number of batches in [{self.first_step}, {shape.length}], got {at!r}')
        band = self.band_candidates
        values = self.end_values(np.asarray(lr, dtype=float), band, None if at is None else int(at))
        if not (np.isfinite(values[0]) and values[0] > 0):
            raise ValueError(f'{name}: the fitted law gives a loss of {values[0]:.4g} after {at or shape.length} '
                             'batches, not a positive number: this target is outside what the fit can describe '
                             '(fit on runs closer to it)')
        values = values[np.isfinite(values) & (values > 0)]
        corr = self._correction(shape.length)
        raw, values = float(values[0]), values * corr
        h = self.half_width(shape, coverage)
        best = float(values[0])
        low, high = min(best * math.exp(-h), float(values.min())), max(best * math.exp(h), float(values.max()))
        pred: dict = dict(law=self.law, loss=best, low=low, high=high, n_fits=len(band), coverage=coverage,
                          fits_low=float(values.min()), fits_high=float(values.max()), warnings=self.warnings)
        offsets = self._offsets(band)
        if offsets is not None and np.isfinite(offsets[0]):
            off = float(offsets[0])
            if raw + off > 0:  # the interval keeps its relative width on the final evaluation's scale
                final = (raw + off) * corr
                pred.update(final_loss=final, final_low=final * low / best, final_high=final * high / best)
        if self.metric_map is not None:
            m = self.metric_map
            mlow, mhigh = m.band(low, high)
            pred.update(metric=m(best), metric_low=mlow, metric_high=mhigh,
                        metric_extrapolated=not m.range[0] <= best <= m.range[1])
        return Prediction(**pred)


#: A fit whose residuals' lag-1 autocorrelation reaches this misses the shape of the run it was fitted on
#: (``LawFit.misfit``): on the shared real logs every fit stays below 0.50; on the tiny LM's 600-batch runs, where
#: the law predicts 4-9% too low, four of five seeds' fits are at 0.66-0.84 (the fifth, -0.15, predicts within 0.6%).
MISFIT_AUTOCORRELATION = 0.6
#: The largest lag-1 autocorrelation of the residuals :func:`residual_noise` trusts (a factor of at most
#: sqrt(19) = 4.4 on their scatter).
MAX_AUTOCORRELATION = 0.9


def residual_noise(residuals: Sequence[np.ndarray]) -> float:
    r"""The fit's noise term: the scatter of its log residuals, inflated where they are autocorrelated.

    :math:`\sigma_n = \max\bigl(1.4826\,\mathrm{MAD}(r),\ \mathrm{RMS}(r)\sqrt{(1+\rho)/(1-\rho)}\bigr)`, with
    :math:`\rho` the lag-1 autocorrelation of each run's residuals in step order (pooled over the runs, clipped to
    ``[0, 0.9]``). Independent residuals (:math:`\rho = 0`) are seed-like noise; residuals that stay on one side
    of the curve for many points (:math:`\rho` near 1) are the law's systematic misfit of the run, which an
    extrapolation carries to the target: the factor is the long-run standard deviation of an AR(1) series with
    that autocorrelation, so a law that fits the user's run badly gets a wider interval from the run itself.

    Args:
        residuals: per fitted run, its log residuals ``log L_hat - log L`` in step order.

    Example:
        >>> import numpy as np
        >>> white = np.tile([0.01, -0.01], 20)
        >>> wave = 0.01 * np.sign(np.sin(np.linspace(0, 6, 40)))
        >>> round(residual_noise([white]), 3), round(residual_noise([wave]), 3)
        (0.015, 0.043)
    """
    res = np.concatenate([np.asarray(r, dtype=float) for r in residuals])
    mad = 1.4826 * float(np.median(np.abs(res - np.median(res))))
    rho = min(MAX_AUTOCORRELATION, max(0.0, residual_autocorrelation(residuals)))
    rms = math.sqrt(float(np.dot(res, res)) / res.size)
    return max(mad, rms * math.sqrt((1 + rho) / (1 - rho)))


def residual_autocorrelation(residuals: Sequence[np.ndarray]) -> float:
    """The lag-1 autocorrelation of the log residuals, each run's in step order, pooled over the runs
    (``sum r_i r_{i+1} / sum r_i^2``; 0 for all-zero residuals). Near 0: the law follows the run's shape and what
    is left is noise; near 1: it misses the shape (see :data:`MISFIT_AUTOCORRELATION`).

    Example:
        >>> round(residual_autocorrelation([[0.01, -0.01, 0.01, -0.01], [0.02, 0.02, -0.02, -0.02]]), 3)
        0.05
    """
    den = sum(float(np.dot(r, r)) for r in map(np.asarray, residuals))
    num = sum(float(np.dot(r[:-1], r[1:])) for r in map(np.asarray, residuals) if len(r) > 1)
    return num / den if den > 0 else 0.0


def fit_points(runs: Sequence[Run], skip: float):
    """Per run: the (steps, losses) to fit, without the steps before ``skip`` times the longest run or within the
    warm-up (the laws do not describe the start of training)."""
    longest = max(r.shape.length for r in runs)
    out = []
    for r in runs:
        steps, loss = r.points()
        keep = (steps >= skip * longest) & (steps > r.shape.warmup)
        out.append((steps[keep], loss[keep]))
    if sum(s.size for s, _ in out) < 6:
        raise ValueError(f'too few loss points to fit after skipping the first skip={skip} of training and the '
                         'warm-up: log the loss more often (at least 6 points in all)')
    if not any(np.any(s > r.shape.cooldown_start) for r, (s, _) in zip(runs, out)):
        raise ValueError('no run has a loss point inside its cool-down, so the annealing term cannot be fitted: '
                         'include a run with a cool-down (e.g. the full-length run) and its loss during it')
    return out


def check_runs(runs: Sequence[Run], minimum: int, law: str) -> List[Run]:
    runs = list(runs)
    if len(runs) < minimum or not all(isinstance(r, Run) for r in runs):
        raise ValueError(f'runs: the {law} law needs at least {minimum} Run object(s), got {len(runs)}')
    peaks = [r.shape.peak for r in runs]
    if max(peaks) - min(peaks) > 1e-6 * max(peaks):
        raise ValueError(f'runs: all runs must share one peak LR (one recipe), got peaks {peaks}')
    return runs
