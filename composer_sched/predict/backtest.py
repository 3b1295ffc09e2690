r"""Backtests: predict runs you trained from the others, and compare with what they measured.

For a set of runs of one recipe (same peak LR and warm-up), grouped into schedule families:

* ``only``: the momentum law fitted on one run with a cool-down predicts every other run the refusal rule accepts
  (:meth:`LawFit.check`), one case per (fitted run, target); where the runs include a constant-LR one, the
  adiabatic law fitted on each run that decays over the whole run and the longest constant-LR run predicts the
  other runs of that family (:mod:`~composer_sched.predict.adiabatic`: other cosine horizons);
* ``anchor``: per family with three or more runs with a cool-down, the longest run and the shortest one (the
  anchor) predict the runs in between: with the momentum law fitted on the longest run and corrected by the
  anchor (:meth:`LawFit.anchored`), and with the Multi-Power Law fitted on both.

Each case records the prediction, its interval, the measured loss (the run's ``final_loss`` when it and the fitted
runs have one, else its last logged loss, predicted at that step), and the baselines' values
(:mod:`composer_sched.predict.baselines`, from the fitted runs plus any constant-LR run of the recipe).
:func:`summarize` reduces them per family x mode x law; :func:`calibrate_spread` turns their residuals into the
interval's spread (split-conformal style).

Example:
    >>> import numpy as np
    >>> from composer_sched.predict import Run, momentum_law
    >>> def wsd(T):
    ...     return np.minimum(1.0, (T - np.arange(T)) / (0.2 * T))
    >>> law = dict(L0=2, A=0.5, alpha=0.5, C=2, lam=0.99, scale=1000)
    >>> runs = [Run(wsd(T), eval_loss=(np.arange(100, T + 1, 20), momentum_law(wsd(T), np.arange(100, T + 1, 20),
    ...             **law)), name=f'wsd_{T}') for T in (600, 800, 1000)]
    >>> cases = backtest(runs, laws=('momentum',))
    >>> len(cases), all(abs(c.error) < 0.01 for c in cases)
    (7, True)
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from composer_sched.predict._law import LawFit, _normal_quantile, check_knobs
from composer_sched.predict._runs import Run
from composer_sched.predict.baselines import BASELINES, baselines
from composer_sched.predict.logs import family_of

__all__ = ['Case', 'LAWS', 'backtest', 'calibrate_spread', 'format_summary', 'summarize']

#: The laws a backtest can run (``adiabatic`` only where a constant-LR run of the recipe is among the runs).
LAWS = ('momentum', 'multi_power', 'adiabatic')


@dataclasses.dataclass(frozen=True)
class Case:
    """One backtest prediction.

    Attributes:
        family: the fitted runs' family (``'a->b'`` when the target is of another family ``b``).
        mode, law: ``'only'``/``'anchor'``; ``'momentum'``/``'multi_power'``.
        fitted, target: run names. measured, predicted, low, high: losses (``low, high``: the interval).
        distance, noise: the target's distance from the fitted runs and the fit's noise (see ``LawFit``).
        baselines: ``{name: value or None}``.
        autocorrelation: the lag-1 autocorrelation of the fit's residuals (``LawFit.misfit`` from 0.6).
    """
    family: str
    mode: str
    law: str
    fitted: tuple
    target: str
    measured: float
    predicted: float
    low: float
    high: float
    distance: float
    noise: float
    baselines: Dict[str, Optional[float]]
    autocorrelation: float = 0.0

    @property
    def error(self) -> float:
        """Relative error, ``predicted / measured - 1``."""
        return self.predicted / self.measured - 1

    @property
    def covered(self) -> bool:
        return self.low <= self.measured <= self.high

    def baseline_error(self, name: str) -> Optional[float]:
        v = self.baselines.get(name)
        return None if v is None else v / self.measured - 1


def _has_cooldown_points(r: Run) -> bool:
    s, _ = r.points()
    return r.shape.cooldown_shape is not None and bool(np.any(s > r.shape.cooldown_start))


def _case(fit: LawFit, target: Run, family: str, mode: str, trunks: Sequence[Run], coverage: float,
          refused: Optional[list] = None) -> Optional[Case]:
    try:
        fit.check(target.lr, name=target.name)
    except ValueError as e:
        if refused is not None and '->' not in family:  # a run of the same family the law will not predict
            refused.append((family, mode, fit.law, tuple(r.name for r in fit.fitted_runs), target.name, str(e)))
        return None
    steps, loss = target.points()
    final = target.final_loss is not None and all(r.final_loss is not None for r in fit.runs)
    at = None if final else int(steps[-1])
    try:
        p = fit.predict(target.lr, name=target.name, coverage=coverage, at=at)
    except ValueError:
        return None
    if final:
        assert p.final_loss is not None and p.final_low is not None and p.final_high is not None
        measured, pred, low, high = float(target.final_loss), p.final_loss, p.final_low, p.final_high  # type: ignore
    else:
        measured, pred, low, high = float(loss[-1]), p.loss, p.low, p.high
    base_runs = list(fit.fitted_runs) + [t for t in trunks if t is not target and t not in fit.fitted_runs]
    return Case(family, mode, fit.law, tuple(r.name for r in fit.runs), target.name, float(measured), float(pred),
                float(low), float(high), fit.distance(fit.check(target.lr)), fit.noise,
                baselines(base_runs, target.lr, at=at, final=final), fit.autocorrelation)


def backtest(runs: Sequence[Run], *, families: Optional[Mapping[str, str]] = None,
             laws: Sequence[str] = LAWS, modes: Sequence[str] = ('only', 'anchor'),
             coverage: float = 0.8, spread: Optional[float] = None, refused: Optional[list] = None) -> List[Case]:
    """Backtest the laws on ``runs`` (see the module): every accepted (fitted, target) pair of each mode.

    Args:
        runs: runs of one recipe, with distinct names.
        families: ``{run name: family}`` (default: :func:`~composer_sched.predict.logs.family_of` of the name).
        laws: of :data:`LAWS`: ``'momentum'``, ``'multi_power'`` (in ``anchor`` mode only: it needs two runs),
            ``'adiabatic'`` (in ``only`` mode, with a constant-LR run).
        modes: of ``'only'``, ``'anchor'``.
        coverage: the intervals' coverage, in ``(0, 1)``.
        spread: the intervals' spread per e-fold (default: the package's, ``SPREAD_PER_EFOLD``).
        refused: a list to append ``(family, mode, law, fitted, target, reason)`` to for every run of the fitted
            run's own family the refusal rule turned down (what the package says it cannot predict).

    Returns:
        The :class:`Case` list (empty when no pair is accepted).

    Raises:
        ValueError: an unknown law or mode, duplicate names, or a bad ``coverage``/``spread``.
    """
    from composer_sched.predict.momentum import fit_momentum_law
    from composer_sched.predict.multipower import fit_multi_power_law

    check_knobs(coverage=coverage)
    if spread is not None:
        check_knobs(spread=spread)
    bad = [x for x in laws if x not in LAWS] + [m for m in modes if m not in ('only', 'anchor')]
    if bad:
        raise ValueError(f'backtest: unknown law or mode {bad[0]!r} (laws: {", ".join(LAWS)}; modes: only, anchor)')
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ValueError(f'backtest: run names must be distinct, got {names}')
    fam = {r.name: (families or {}).get(r.name) or family_of(r.name) for r in runs}
    trunks = [r for r in runs if r.shape.cooldown_shape is None]
    fittable = [r for r in runs if _has_cooldown_points(r)]
    cases: List[Case] = []

    def spread_of(fit):
        return fit if spread is None else fit.with_spread(spread)

    def label(fitted: Run, target: Run) -> str:
        a, b = fam[fitted.name], fam[target.name]
        return a if a == b else f'{a}->{b}'

    only_fits: Dict[str, LawFit] = {}
    for r in fittable:
        try:
            only_fits[r.name] = spread_of(fit_momentum_law([r]))
        except ValueError:
            continue
        if 'only' in modes and 'momentum' in laws:
            for t in runs:
                if t is not r:
                    c = _case(only_fits[r.name], t, label(r, t), 'only', trunks, coverage, refused)
                    if c is not None:
                        cases.append(c)
    if 'only' in modes and 'adiabatic' in laws and trunks:
        # A decay over the whole run at other horizons of its family, with the longest constant-LR run beside it.
        from composer_sched.predict._shape import _whole_run, check_target
        from composer_sched.predict.adiabatic import fit_adiabatic_law

        trunk = max(trunks, key=lambda t: t.shape.length)
        for r in (x for x in fittable if _whole_run(x.shape)):
            targets = []
            for t in (x for x in runs if x is not r and fam[x.name] == fam[r.name]):
                try:  # the shape rule first: a fit no target needs is not made
                    check_target(t.shape, [r.shape, trunk.shape], name=t.name, horizons=False)
                    targets.append(t)
                except ValueError as e:
                    if refused is not None:
                        refused.append((fam[r.name], 'only', 'adiabatic', (r.name, trunk.name), t.name, str(e)))
            if not targets:
                continue
            try:
                fit = spread_of(fit_adiabatic_law([r, trunk]))
            except ValueError:
                continue
            for t in targets:
                c = _case(fit, t, fam[r.name], 'only', trunks, coverage, refused)
                if c is not None:
                    cases.append(c)
    if 'anchor' in modes:
        for f in sorted(set(fam.values())):
            members = sorted((r for r in fittable if fam[r.name] == f), key=lambda r: r.shape.length)
            if len({r.shape.length for r in members}) < 3:
                continue
            anchor, full = members[0], members[-1]
            targets = [r for r in members if anchor.shape.length < r.shape.length < full.shape.length]
            fits: List[LawFit] = []
            if 'momentum' in laws and full.name in only_fits:
                try:
                    fits.append(only_fits[full.name].anchored(anchor))
                except ValueError:
                    pass
            if 'multi_power' in laws:
                try:
                    fits.append(spread_of(fit_multi_power_law([full, anchor])))
                except ValueError:
                    pass
            for fit in fits:
                for t in targets:
                    c = _case(fit, t, f, 'anchor', trunks, coverage, refused)
                    if c is not None:
                        cases.append(c)
    return cases


def calibrate_spread(cases: Sequence[Case], coverage: float = 0.8) -> float:
    r"""The interval's spread per e-fold that makes ``coverage`` of ``cases`` covered (split-conformal: the
    :math:`\lceil (n+1)c \rceil`-th smallest per-case score, with the score the spread that would just cover that
    case, :math:`\sqrt{\max(0, (r/z)^2 - \sigma_n^2)} / d`, :math:`r = |\log(\text{pred}/\text{measured})|`).

    Raises:
        ValueError: no cases, or a bad ``coverage``.

    Example:
        >>> c = Case('f', 'only', 'momentum', ('a',), 'b', 1.0, 1.01, 1.0, 1.02, 1.0, 0.0, {})
        >>> round(calibrate_spread([c] * 9), 5)
        0.00776
    """
    check_knobs(coverage=coverage)
    if not cases:
        raise ValueError('calibrate_spread needs at least one backtest case')
    z = _normal_quantile((1 + coverage) / 2)
    scores = sorted(math.sqrt(max(0.0, (abs(math.log(c.predicted / c.measured)) / z) ** 2 - c.noise ** 2)) / c.distance
                    for c in cases)
    k = min(len(scores), math.ceil((len(scores) + 1) * coverage)) - 1
    return float(scores[k])


def summarize(cases: Sequence[Case]) -> List[dict]:
    """Per family x mode x law: ``n``, ``median`` and ``worst`` absolute relative error, ``coverage`` of the
    intervals, ``too_low`` (share of predictions below the measurement), each baseline's median absolute error
    (None where unavailable), and ``best_baseline`` (name) where one beats the law's median error."""
    groups: Dict[tuple, List[Case]] = {}
    for c in cases:
        groups.setdefault((c.family, c.mode, c.law), []).append(c)
    out = []
    for (family, mode, law), cs in sorted(groups.items()):
        err = np.abs([c.error for c in cs])
        row = dict(family=family, mode=mode, law=law, n=len(cs), median=float(np.median(err)),
                   worst=float(err.max()), coverage=float(np.mean([c.covered for c in cs])),
                   too_low=float(np.mean([c.error < 0 for c in cs])), baselines={})
        for name in BASELINES:
            be = [c.baseline_error(name) for c in cs]
            row['baselines'][name] = (float(np.median(np.abs([b for b in be if b is not None])))
                                      if all(b is not None for b in be) else None)
        better = {k: v for k, v in row['baselines'].items() if v is not None and v < row['median']}
        row['best_baseline'] = min(better, key=lambda k: better[k]) if better else None
        out.append(row)
    return out


SHORT = {'trunk': 'trunk', 'trunk_minus_gain': 'trunk-gain', 'trunk_minus_interpolated_gain': 'trunk-interp',
         'stable_power_law': 'power-law'}


def format_summary(rows: Sequence[dict]) -> str:
    """The summary as an aligned text table (errors in %; ``-``: a baseline the runs cannot give)."""
    head = ['family', 'mode', 'law', 'n', 'median', 'worst', 'covered', 'too low'] + [SHORT[b] for b in BASELINES] \
        + ['better baseline']
    body = []
    for r in rows:
        body.append([r['family'], r['mode'], r['law'], str(r['n']), f'{100 * r["median"]:.2f}%',
                     f'{100 * r["worst"]:.2f}%', f'{100 * r["coverage"]:.0f}%', f'{100 * r["too_low"]:.0f}%']
                    + ['-' if r['baselines'][b] is None else f'{100 * r["baselines"][b]:.2f}%' for b in BASELINES]
                    + [SHORT.get(r['best_baseline'], '-') if r['best_baseline'] else '-'])
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    return '\n'.join('  '.join(c.ljust(w) for c, w in zip(x, widths)).rstrip() for x in [head] + body)
