"""Reading a sweep: a table per ratio, the Pareto frontier, a fitted quality-vs-cost curve, a recommendation and
the ``tradeoff.png`` plot.

Cost is measured in batches trained by a run of that ratio on its own (the same on any machine); wall time and
device-seconds are reported next to it. For a run that branched from a trunk, its wall time is its own measured
time per batch times its budget, i.e. what it would have cost alone.
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Optional, Sequence

import numpy as np

from composer_sched.sweep.target import metric_goal

__all__ = ['RatioSummary', 'QualityCurve', 'SweepReport', 'summarize', 'pareto_front', 'fit_curve',
           'recommend', 'build_report', 'plot_tradeoff', 'plot_overview']


@dataclasses.dataclass
class RatioSummary:
    """One ratio, aggregated over its successful seeds (``std`` is the sample standard deviation; 0 for one seed)."""
    ratio: float
    n: int
    failed: int
    batches: float
    samples: float
    wall_s: float
    device_s: float
    mean: dict[str, float]
    std: dict[str, float]
    predicted: bool = False
    band: dict = dataclasses.field(default_factory=dict)  # predicted: {metric: (low, high)} over seeds' bands
    loss: Optional[float] = None  # predicted eval loss (mean over seeds), or the measured final one when recorded
    flagged: bool = False  # predicted from a doubtful run (diverged, rising at the end) or by a baseline
    origin: str = ''  # 'continued from ratio 1' (sweep --extend; per seed in the CSV), or '' (trained, branched)


@dataclasses.dataclass
class QualityCurve:
    """``quality(cost) = a + b * cost**(-alpha)`` (``kind='power'``) or ``a + b * log(cost)`` (``kind='log'``);
    cost in batches. ``r2`` is the fit's coefficient of determination on the per-seed points."""
    kind: str
    a: float
    b: float
    alpha: float
    r2: float

    def __call__(self, cost):
        c = np.asarray(cost, dtype=float)
        if self.kind == 'power':
            return self.a + self.b * c ** (-self.alpha)
        return self.a + self.b * np.log(c)

    def __str__(self) -> str:
        if self.kind == 'power':
            return (f'quality = {self.a:.4f} {"+" if self.b >= 0 else "-"} {abs(self.b):.4g} '
                    f'* batches^-{self.alpha:.3f} (R^2 {self.r2:.3f})')
        return (f'quality = {self.a:.4f} {"+" if self.b >= 0 else "-"} {abs(self.b):.4g} * ln(batches) '
                f'(R^2 {self.r2:.3f})')


@dataclasses.dataclass
class SweepReport:
    """The whole reading of a sweep (see :func:`build_report`)."""
    metric: str
    goal: str
    tolerance: float
    summaries: list[RatioSummary]
    frontier: list[float]
    best_ratio: float
    recommended_ratio: float
    curve: Optional[QualityCurve]
    curve_ratio: Optional[float]
    plot_path: Optional[str] = None
    predictions: list = dataclasses.field(default_factory=list)  # RatioSummary of every predicted ratio
    measured: list = dataclasses.field(default_factory=list)  # RatioSummary of the trained ratios

    def errors(self) -> list[dict]:
        """Per ratio both predicted and trained (``--predict shadow``): predicted and measured means, the error
        in metric units and in units of the seeds' standard deviation, whether the interval covers the measured mean,
        and the eval loss's relative error."""
        meas = {s.ratio: s for s in self.measured}
        out = []
        for p in self.predictions:
            m = meas.get(p.ratio)
            if m is None or self.metric not in m.mean or self.metric not in p.mean:
                continue
            err = p.mean[self.metric] - m.mean[self.metric]
            lo, hi = p.band.get(self.metric, (math.nan, math.nan))
            out.append({'ratio': p.ratio, 'predicted': p.mean[self.metric], 'low': lo, 'high': hi,
                        'measured': m.mean[self.metric], 'std': m.std[self.metric], 'error': err,
                        'error_in_std': err / m.std[self.metric] if m.n > 1 and m.std[self.metric] > 0 else None,
                        'covered': lo <= m.mean[self.metric] <= hi, 'loss_predicted': p.loss, 'loss_measured': m.loss,
                        'loss_error': (p.loss / m.loss - 1) if p.loss and m.loss else None})
        return out

    def table(self) -> str:
        """The results table as fixed-width text."""
        metrics = sorted({k for s in self.summaries for k in s.mean})
        head = ['ratio', 'seeds', 'batches', 'samples', 'wall s', 'device s'] + [f'{m} (mean +- std)' for m in metrics]
        origins = any(s.origin for s in self.summaries)
        if origins:
            head.append('origin')
        lines = [head]
        any_predicted = any(s.predicted for s in self.summaries)
        for s in self.summaries:
            mark = ('*' if s.ratio in self.frontier else ' ') + ('p' if s.predicted else ' ' if any_predicted else '') \
                + ('!' if s.flagged else '')
            cells = [f'{s.ratio:g}{mark}', f'{s.n}' + (f' ({s.failed} failed)' if s.failed else ''),
                     f'{s.batches:.0f}', f'{s.samples:.0f}'] + \
                (['-', '-'] if s.predicted else [f'{s.wall_s:.2f}', f'{s.device_s:.2f}'])
            cells += [(f'{s.mean[m]:.4f} [{s.band[m][0]:.4f}, {s.band[m][1]:.4f}]' if s.predicted and m in s.band
                       else f'{s.mean[m]:.4f} +- {s.std[m]:.4f}') if m in s.mean else '-' for m in metrics]
            if origins:
                cells.append(s.origin or '-')
            lines.append(cells)
        widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
        return '\n'.join('  '.join(c.rjust(w) for c, w in zip(row, widths)) for row in lines)

    def text(self) -> str:
        """Table, frontier, recommendation and fitted curve, as the CLI prints them."""
        best = next(s for s in self.summaries if s.ratio == self.best_ratio)
        rec = next(s for s in self.summaries if s.ratio == self.recommended_ratio)
        legend = '(* = on the Pareto frontier of cost and quality'
        if any(s.predicted for s in self.summaries):
            legend += ('; p = predicted, not trained: the momentum law fitted on the trained ratios, the metric '
                       'through an isotonic map of the eval loss, [..] = 80% prediction interval, ! = from a '
                       'diverged or rising run, or a baseline that beat the law in the sweep\'s backtest')
        if any(s.origin for s in self.summaries):
            legend += ('; origin: continued = trained only its extra batches, from the final checkpoint of a finished '
                       'shorter run (sweep --extend: a re-warm, then the recipe\'s decay; batches and seconds count '
                       'the finished run\'s too)')
        lines = [self.table(), legend + ')', '',
                 f'best {self.metric}: {best.mean[self.metric]:.4f} at ratio {self.best_ratio:g}',
                 f'recommendation: ratio {self.recommended_ratio:g}: {rec.mean[self.metric]:.4f}, within '
                 f'{self.tolerance:g} of the best at {rec.batches / best.batches:.0%} of its batches']
        rests = sorted({x.ratio for x in (best, rec) if x.predicted})
        if rests:
            lines.append(f'  this rests on predictions (ratio {", ".join(f"{r:g}" for r in rests)} predicted, not '
                         'trained; the laws were derived for language-model loss): train that ratio, or use '
                         '--predict shadow, before relying on it')
        if self.curve is not None:
            lines.append(f'fitted curve: {self.curve}')
            if self.curve_ratio is not None:
                lines.append(f'  the curve is within {self.tolerance:g} of its best from ratio ~{self.curve_ratio:.2f}')
        errs = self.errors()
        if errs:
            lines += ['', f'predictions vs trained runs ({self.metric}; error = predicted - measured mean):',
                      _columns([['ratio', 'predicted [80% interval]', 'measured', 'error', 'error/std', 'in interval',
                                 'eval loss error']] +
                               [[f'{e["ratio"]:g}', f'{e["predicted"]:.4f} [{e["low"]:.4f}, {e["high"]:.4f}]',
                                 f'{e["measured"]:.4f} +- {e["std"]:.4f}', f'{e["error"]:+.4f}',
                                 '-' if e['error_in_std'] is None else f'{e["error_in_std"]:+.2f}',
                                 'yes' if e['covered'] else 'no',
                                 '-' if e['loss_error'] is None else f'{e["loss_error"]:+.2%}'] for e in errs])]
            order_p = [e['ratio'] for e in sorted(errs, key=lambda e: e['predicted'])]
            order_m = [e['ratio'] for e in sorted(errs, key=lambda e: e['measured'])]
            lines.append(f'  ranked as measured: {"yes" if order_p == order_m else "no"}; interval covers '
                         f'{sum(e["covered"] for e in errs)} of {len(errs)}')
        return '\n'.join(lines)


def _columns(rows: list) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return '\n'.join('  '.join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


def summarize(rows: Sequence[dict[str, Any]]) -> list[RatioSummary]:
    """Aggregate result rows (:meth:`ResultsStore.rows`) per ratio, over seeds."""
    out = []
    for ratio in sorted({r['ratio'] for r in rows}):
        group = [r for r in rows if r['ratio'] == ratio]
        ok = [r for r in group if r['status'] == 'done']
        if not ok:
            continue
        names = sorted({k for r in ok for k in r['metrics']})
        mean, std = {}, {}
        for m in names:
            v = np.array([r['metrics'][m] for r in ok if m in r['metrics']], dtype=float)
            mean[m] = float(v.mean())
            std[m] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        avg = lambda k: float(np.mean([r[k] or 0.0 for r in ok]))  # noqa: E731
        predicted = all(r.get('predicted') for r in ok)
        band: dict[str, tuple[float, float]] = {}
        losses: list[float] = []
        for r in ok:
            p = r.get('prediction') or {}
            for m, b in (p.get('metrics') or {}).items():
                lo, hi = band.get(m, (math.inf, -math.inf))
                band[m] = (min(lo, b['low']), max(hi, b['high']))
            h = r.get('history') or {}
            loss = p.get('loss') if predicted else ((h.get('eval_loss') or [None])[-1])
            if loss is not None:
                losses.append(loss)
        flagged = predicted and any((r.get('prediction') or {}).get('warnings') or
                                    (r.get('prediction') or {}).get('estimate', 'law') != 'law' for r in ok)
        out.append(RatioSummary(ratio, len(ok), len(group) - len(ok), avg('batches'), avg('samples'),
                                avg('equiv_wall_s'), avg('device_s'), mean, std, predicted, band,
                                float(np.mean(losses)) if len(losses) == len(ok) else None, flagged, _origin(ok)))
    return out


def _origin(ok: Sequence[dict[str, Any]]) -> str:
    """Where a ratio's runs came from, for the table: 'continued from ratio 1' when every seed was (``--extend``),
    'continued from ratio 1 (2 of 3 seeds)', or '' when none was."""
    import re

    found = [m.group(1) for r in ok if (m := re.match(r'(continued from ratio \S+)', r.get('origin') or ''))]
    if not found:
        return ''
    kinds = sorted(set(found))
    text = kinds[0] if len(kinds) == 1 else 'continued from ratios ' + ', '.join(k.rsplit(' ', 1)[1] for k in kinds)
    return text if len(found) == len(ok) else f'{text} ({len(found)} of {len(ok)} seeds)'


def pareto_front(costs: Sequence[float], quality: Sequence[float], goal: str = 'max') -> list[int]:
    """Indices of the points no other point beats on both cost (lower) and quality, sorted by cost.

    Example:
        >>> pareto_front([1, 2, 3], [0.5, 0.4, 0.9])
        [0, 2]
    """
    sign = 1.0 if goal == 'max' else -1.0
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -sign * quality[i]))
    front, best = [], -math.inf
    for i in order:
        if sign * quality[i] > best:
            front.append(i)
            best = sign * quality[i]
    return front


def fit_curve(costs: Sequence[float], quality: Sequence[float]) -> Optional[QualityCurve]:
    """Fit quality against cost (batches): a saturating power law with 4+ distinct costs, else ``a + b ln c``.

    Returns ``None`` with fewer than 2 distinct costs.
    """
    c = np.asarray(costs, dtype=float)
    q = np.asarray(quality, dtype=float)
    if len(set(c.tolist())) < 2:
        return None

    def r2(pred):
        ss = float(((q - q.mean()) ** 2).sum())
        return 1.0 - float(((q - pred) ** 2).sum()) / ss if ss > 0 else 1.0

    b, a = np.polyfit(np.log(c), q, 1)
    log_fit = QualityCurve('log', float(a), float(b), 0.0, r2(a + b * np.log(c)))
    if len(set(c.tolist())) < 4:
        return log_fit
    try:
        from scipy.optimize import curve_fit

        scale = c.max()

        def f(x, a, b, alpha):
            return a + b * (x / scale) ** (-alpha)

        (a_, b_, al), _ = curve_fit(f, c, q, p0=(q.mean(), -0.1 * np.sign(b or 1), 1.0),
                                    bounds=([-np.inf, -np.inf, 1e-3], [np.inf, np.inf, 5.0]), maxfev=20000)
        power = QualityCurve('power', float(a_), float(b_ * scale ** al), float(al), r2(f(c, a_, b_, al)))
    except (RuntimeError, ValueError):
        return log_fit
    return power if power.r2 >= log_fit.r2 else log_fit


def recommend(summaries: Sequence[RatioSummary], metric: str, tolerance: float, goal: str) -> tuple[float, float]:
    """``(best ratio, recommended ratio)``: the smallest ratio whose mean is within ``tolerance`` of the best."""
    sign = 1.0 if goal == 'max' else -1.0
    best = max(summaries, key=lambda s: (sign * s.mean[metric], -s.ratio))
    target = sign * best.mean[metric] - tolerance
    ok = [s for s in summaries if sign * s.mean[metric] >= target - 1e-12]
    return best.ratio, min(s.ratio for s in ok)


def build_report(rows: Sequence[dict[str, Any]], tolerance: float = 0.01, metric: Optional[str] = None,
                 out_dir: Optional[str] = None) -> SweepReport:
    """Summaries, frontier, recommendation and fitted curve of a sweep's rows; writes ``tradeoff.png`` to ``out_dir``.

    Args:
        rows: result rows; at least one must be ``done``.
        tolerance: slack for the recommendation in metric units, ``>= 0``.
        metric: the eval metric to judge by (default: the first, alphabetically).
        out_dir: folder for ``tradeoff.png`` (``None``: no plot).

    Raises:
        ValueError: no successful run, or ``metric`` is not one of the runs' metrics.
    """
    # Predicted rows (--predict) stand in for ratios with no trained run; where both exist (shadow) the trained
    # runs are the result and the predictions are compared with them.
    trained = [r for r in rows if not r.get('predicted')]
    measured_ratios = {r['ratio'] for r in trained if r['status'] == 'done'}
    guessed = [r for r in rows if r.get('predicted')]
    rows = trained + [r for r in guessed if r['ratio'] not in measured_ratios]
    summaries = summarize(rows)
    if not summaries:
        raise ValueError('no run of the sweep succeeded: nothing to report.')
    names = sorted({m for s in summaries for m in s.mean})
    if not names:
        raise ValueError('the runs recorded no eval metrics: the recipe needs an eval split to judge quality.')
    metric = metric or names[0]
    if metric not in names:
        raise ValueError(f'--metric={metric!r} is not allowed: the runs recorded {", ".join(names)}.')
    summaries = [s for s in summaries if metric in s.mean]
    goal = metric_goal(metric)
    front = pareto_front([s.batches for s in summaries], [s.mean[metric] for s in summaries], goal)
    best, rec = recommend(summaries, metric, tolerance, goal)
    ok = [r for r in rows if r['status'] == 'done' and metric in r['metrics']]
    curve = fit_curve([r['batches'] for r in ok], [r['metrics'][metric] for r in ok])
    curve_ratio = None
    if curve is not None and len(summaries) > 1:
        lo, hi = summaries[0], summaries[-1]
        grid = np.linspace(lo.batches, hi.batches, 400)
        pred = curve(grid) * (1 if goal == 'max' else -1)
        within = np.flatnonzero(pred >= pred.max() - tolerance)
        curve_ratio = float(lo.ratio + (grid[within[0]] - lo.batches) / (hi.batches - lo.batches) *
                            (hi.ratio - lo.ratio)) if hi.batches > lo.batches else None
    report = SweepReport(metric, goal, tolerance, summaries, [summaries[i].ratio for i in front], best, rec, curve,
                         curve_ratio, predictions=[p for p in summarize(guessed) if metric in p.mean],
                         measured=summarize(trained))
    if out_dir is not None:
        report.plot_path = plot_tradeoff(report, os.path.join(out_dir, 'tradeoff.png'))
    return report


def plot_tradeoff(report: SweepReport, path: str) -> str:
    """Quality against cost (batches): mean +- std per ratio, Pareto frontier, fitted curve, recommendation."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    m = report.metric
    s = report.summaries
    x = np.array([v.batches for v in s])
    y = np.array([v.mean[m] for v in s])
    e = np.array([v.std[m] for v in s])
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    meas = np.array([not v.predicted for v in s])
    ax.errorbar(x[meas], y[meas], yerr=e[meas], fmt='o', color='C0', capsize=4,
                label='trained runs (mean +- std over seeds)')
    if report.predictions:
        # The predicted curve joins the trained ratios it was fitted on; its band is the predictions' band.
        pts = sorted([(p.batches, p.mean[m], *p.band.get(m, (p.mean[m], p.mean[m]))) for p in report.predictions] +
                     [(v.batches, v.mean[m], v.mean[m], v.mean[m]) for v in report.measured
                      if m in v.mean and v.ratio not in {p.ratio for p in report.predictions}])
        px, py, plo, phi = (np.array(c) for c in zip(*pts))
        ax.fill_between(px, plo, phi, color='C4', alpha=0.2, label='80% prediction interval')
        ax.plot(px, py, ':', marker='D', markersize=4, color='C4', label='predicted (momentum law)')
    front = [i for i, v in enumerate(s) if v.ratio in report.frontier]
    ax.step(x[front], y[front], where='post', color='C2', alpha=0.8, label='Pareto frontier')
    if report.curve is not None and len(x) > 1:
        grid = np.linspace(x.min(), x.max(), 200)
        ax.plot(grid, report.curve(grid), '--', color='C1', label=f'fit ({report.curve.kind})')
    rec = next(i for i, v in enumerate(s) if v.ratio == report.recommended_ratio)
    ax.plot(x[rec], y[rec], marker='*', markersize=16, color='C3', linestyle='none',
            label=f'recommended: ratio {report.recommended_ratio:g}')
    for v in s:
        ax.annotate(f'{v.ratio:g}' + (' (pred.)' if v.predicted else ''), (v.batches, v.mean[m]),
                    textcoords='offset points', xytext=(6, -12), fontsize=8)
    ax.set_xlabel('cost: batches trained (ratio annotated)')
    ax.set_ylabel(m)
    ax.set_title(f'cost / quality trade-off (tolerance {report.tolerance:g})')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='lower right' if report.goal == 'max' else 'upper right')
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_overview(groups: dict, path: str, metric: Optional[str] = None) -> Optional[str]:
    """Quality against cost for several recipe configurations: one line (mean +- std per ratio) each.

    Args:
        groups: ``{(recipe name, config hash): rows}`` (:meth:`ResultsStore.rows`), e.g. a folder's whole database.
        path: the PNG to write.
        metric: the metric to plot where a configuration has it (default: each configuration's first); one panel
            per metric name.

    Returns:
        ``path``, or ``None`` when no configuration has a successful run with a metric (nothing is written).
    """
    panels: dict[str, list] = {}
    for (name, h), rows in groups.items():
        summaries = summarize(rows)
        names = sorted({m for s in summaries for m in s.mean})
        if not names:
            continue
        m = metric if metric in names else names[0]
        pts = [s for s in summaries if m in s.mean]
        panels.setdefault(m, []).append((f'{name} ({h})', pts))
    if not panels:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.2), dpi=110, squeeze=False)
    for ax, (m, lines) in zip(axes[0], sorted(panels.items())):
        for label, pts in lines:
            ax.errorbar([p.batches for p in pts], [p.mean[m] for p in pts], yerr=[p.std[m] for p in pts],
                        marker='o', capsize=3, label=label)
        ax.set_xlabel('cost: batches trained')
        ax.set_ylabel(m)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle('every sweep in this folder (one line per recipe configuration)', fontsize=9)
    fig.tight_layout()
    tmp = f'{path}.{os.getpid()}.tmp.png'
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path
