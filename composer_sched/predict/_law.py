"""What both loss laws share: the robust objective, the candidate fits, the band and the prediction record."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence

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
    value = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)) / delta ** 2
    return value, np.clip(r, -delta, delta) / delta ** 2


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One converged fit: its objective (mean Huber loss of log-loss residuals, over ``delta**2``) and its
    parameters."""
    objective: float
    params: Dict[str, float]


@dataclasses.dataclass(frozen=True)
class Prediction:
    """A predicted end-of-run loss, with its band and, when the fitted runs allow, its final-evaluation and
    metric counterparts.

    Attributes:
        law: ``'momentum'`` or ``'multi_power'``.
        loss, low, high: the law's value after the target's last batch, on the scale of the fitted loss history,
            and the band: min and max over every candidate fit whose objective is within ``(1 + band_tol)`` of the
            best (``loss`` is the best fit's value).
        n_fits: how many candidate fits the band spans.
        final_loss, final_low, final_high: the same on the scale of the runs' ``final_loss`` (each candidate plus
            its own mean offset ``final_loss - law(end)`` over the fitted runs that have one); None without.
        metric, metric_low, metric_high: the secondary metric from ``loss`` through the monotone map fitted on the
            runs' (eval loss, metric) pairs (see :class:`MetricMap`); None without a metric history.
        metric_extrapolated: the predicted loss lies outside the losses the map saw (the map is flat there).
    """
    law: str
    loss: float
    low: float
    high: float
    n_fits: int
    final_loss: Optional[float] = None
    final_low: Optional[float] = None
    final_high: Optional[float] = None
    metric: Optional[float] = None
    metric_low: Optional[float] = None
    metric_high: Optional[float] = None
    metric_extrapolated: bool = False


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


class LawFit:
    """A fitted loss law: the best fit and every other candidate, ready to predict other schedules.

    Subclasses define ``law`` and ``curve``. Build them with :func:`fit_momentum_law` or
    :func:`fit_multi_power_law`.
    """
    law = ''

    def __init__(self, runs: Sequence[Run], candidates: List[Candidate], *, scale: float, band_tol: float,
                 max_extrapolation: float):
        self.runs = tuple(runs)
        self.candidates = sorted((c for c in candidates if np.isfinite(c.objective)), key=lambda c: c.objective)
        if not self.candidates:
            raise ValueError('no fit converged to a finite objective: check that the losses are positive and vary')
        self.scale = scale
        self.band_tol = band_tol
        self.max_extrapolation = max_extrapolation
        pairs = [r.metric_pairs() for r in self.runs] or [(np.empty(0), np.empty(0))]
        loss, metric = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
        self.metric_map = MetricMap(loss, metric) if loss.size >= 3 else None

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

    def curve(self, lr, steps, params: Optional[Dict[str, float]] = None) -> np.ndarray:
        """The law's loss after ``steps`` batches of a run with per-batch LR ``lr`` (best fit by default)."""
        raise NotImplementedError

    def end_values(self, lr, candidates: Sequence[Candidate]) -> np.ndarray:
        """Each candidate's loss after the last batch of ``lr`` (subclasses may share work between candidates)."""
        return np.array([float(self.curve(lr, [len(lr)], c.params)[0]) for c in candidates])

    def _offsets(self, candidates: Sequence[Candidate]) -> Optional[np.ndarray]:
        """Each candidate's mean ``final_loss - law(end)`` over the fitted runs that have a final loss."""
        runs = [r for r in self.runs if r.final_loss is not None]
        if not runs:
            return None
        return np.mean([r.final_loss - self.end_values(r.lr, candidates) for r in runs], axis=0)

    def predict(self, lr, *, name: str = 'lr') -> Prediction:
        """Predict the loss after the last batch of a schedule ``lr`` (per-batch LR on the fitted runs' scale).

        Args:
            lr: the target's LR of every batch, on the same scale as the fitted runs' (same peak).
            name: the argument's name in error messages.

        Returns:
            A :class:`Prediction` (see there for the band and the final-evaluation and metric fields).

        Raises:
            ValueError: ``lr`` is not a schedule the fitted runs can speak for (the rule is
                :func:`composer_sched.predict.check_target`'s).

        Example:
            >>> import numpy as np
            >>> from composer_sched.predict import Run, fit_momentum_law, momentum_law
            >>> lr = np.r_[np.ones(800), np.linspace(1, 0, 201)[1:]]
            >>> steps = np.arange(50, 1001, 50)
            >>> loss = momentum_law(lr, steps, L0=2, A=0.5, alpha=0.5, C=2, lam=0.99, scale=1000)
            >>> fit = fit_momentum_law([Run(lr, eval_loss=(steps, loss), eval_metric=(steps, 1 - loss / 5))])
            >>> p = fit.predict(np.r_[np.ones(400), np.linspace(1, 0, 101)[1:]])
            >>> round(p.loss, 2), p.low <= p.loss <= p.high, round(p.metric, 2)
            (2.67, True, 0.47)
            >>> fit.predict(np.r_[np.ones(400), np.linspace(1, 0, 100), np.ones(100)])
            Traceback (most recent call last):
            ...
            ValueError: lr rises again at batch 500 ...
        """
        shape = analyse_schedule(lr, name=name)
        check_target(shape, [r.shape for r in self.runs], max_extrapolation=self.max_extrapolation, name=name)
        band = self.band_candidates
        values = self.end_values(np.asarray(lr, dtype=float), band)
        pred = dict(law=self.law, loss=values[0], low=values.min(), high=values.max(), n_fits=len(band))
        offsets = self._offsets(band)
        if offsets is not None:
            final = values + offsets
            pred.update(final_loss=final[0], final_low=final.min(), final_high=final.max())
        if self.metric_map is not None:
            m = self.metric_map
            low, high = m.band(pred['low'], pred['high'])
            pred.update(metric=m(pred['loss']), metric_low=low, metric_high=high,
                        metric_extrapolated=not m.range[0] <= pred['loss'] <= m.range[1])
        fields: dict[str, Any] = {k: (float(v) if isinstance(v, np.floating) else v) for k, v in pred.items()}
        return Prediction(**fields)


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
