"""``sweep --predict``: train the longest ratio (and in ``anchor`` mode the shortest one), predict the others' final
eval loss and metrics with the momentum law (:mod:`composer_sched.predict`), and record the predictions as rows
marked ``predicted``.

* ``only``: train the longest ratio alone, with its eval loss measured every ``k`` batches; predict every other
  ratio (about 1.0x the cost of the longest run).
* ``anchor``: also train the shortest ratio (a branch of the trunk when the schedule allows); the law fitted on the
  longest ratio predicts it (the sweep's own backtest, beside the baselines), then that residual corrects the
  predictions of the ratios in between, or the better baseline stands in for the law (flagged); about 1.0x plus
  the shortest ratio's cool-down.
* ``shadow``: as ``only``, then train every ratio as without ``--predict`` and report each prediction's error.

The per-batch LR of every ratio comes from the planner's preview (exact). A ratio the law cannot speak for
(:func:`composer_sched.predict.check_target`: another schedule family, another warm-up, too long an
extrapolation) or a loss-driven schedule (AutoWU) is refused before any training: ``only`` and ``anchor`` stop with
a one-line error (exit 2: we never train 2.5x the budget the user did not ask for), ``shadow`` trains that ratio
without a prediction.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Optional

import numpy as np

from composer_sched.sweep.plan import RunSpec, SweepPlan, ratio_curves

__all__ = ['MODES', 'EVAL_POINTS', 'PredictSetup', 'prepare_predict', 'predicted_id', 'predict_rows']

MODES = ('only', 'anchor', 'shadow')
#: A fitted run is evaluated about this many times (every ``max(1, budget // EVAL_POINTS)`` batches).
EVAL_POINTS = 32
PRED_SUFFIX = '-pred'
#: What stands in for the law when its fit misses the fitted run's shape (``LawFit.misfit``) and no anchor can
#: backtest it: the run's own trunk minus its own cool-down gain.
MISFIT_BASELINE = 'trunk_minus_gain'
SKIP = 0.05  # the fit's default skip (composer_sched.predict.fit_momentum_law)


def predicted_id(run_id: str) -> str:
    """The database key of a run's prediction (distinct from the trained run's, so ``shadow`` keeps both).

    Example:
        >>> predicted_id('abc-r0.5-s0')
        'abc-r0.5-s0-pred'
    """
    return run_id + PRED_SUFFIX


@dataclasses.dataclass
class PredictSetup:
    """What a ``--predict`` sweep trains, fits on and predicts.

    Attributes:
        mode: ``'only'``, ``'anchor'`` or ``'shadow'``.
        first: runs to train before predicting (with an eval history).
        rest: runs to train after predicting (``shadow`` only).
        fitted: ratios the law is fitted on; ``targets``: ratios predicted.
        refused: ``{ratio: reason}`` of ratios that get no prediction (``shadow`` only; trained anyway).
        curves: the per-batch LR multiplier of every ratio.
    """
    mode: str
    first: list[RunSpec]
    rest: list[RunSpec]
    fitted: list[float]
    targets: list[float]
    refused: dict[float, str]
    curves: dict[float, np.ndarray]

    def batches_per_seed(self, plan: SweepPlan) -> int:
        """Batches trained per seed before predicting (trunk plus the anchor's own cool-down)."""
        seed = self.first[0].seed
        return sum(plan.budgets[s.ratio] - (s.branch_batch or 0) for s in self.first if s.seed == seed)

    def predicted_ids(self) -> set[str]:
        """The rows of the predictions."""
        return {predicted_id(s.run_id) for s in self._target_specs}

    def ids(self) -> set[str]:
        """Every row this sweep reports: trained runs and predictions."""
        return {s.run_id for s in self.first + self.rest} | self.predicted_ids()

    _target_specs: list = dataclasses.field(default_factory=list)


def _loss_driven(loaded) -> Optional[str]:
    from composer_sched.sweep.plan import _name

    try:
        from composer_sched.algorithms.autowu import AutoWU
    except ImportError:  # pragma: no cover
        return None
    for a in loaded.algorithms():
        if isinstance(a, AutoWU):
            return (f'{_name(a)} sets the learning rate from the training loss, so no run\'s LR is known before '
                    'training and the law has nothing to extrapolate')
    return None


def prepare_predict(loaded, plan: SweepPlan, mode: str) -> PredictSetup:
    """Which runs to train for ``--predict mode`` and which ratios to predict; refusals are decided here, before
    any training.

    Args:
        loaded: the loaded recipe (:class:`~composer_sched.sweep.target.LoadedTarget`).
        plan: the full sweep's plan (:func:`~composer_sched.sweep.plan.plan_sweep`).
        mode: one of :data:`MODES`.

    Raises:
        ValueError: an unknown ``mode``; with ``only`` or ``anchor``, a loss-driven schedule (AutoWU) or a ratio the
            law cannot predict from the fitted ratios (the message names the ratio and the rule it breaks).
    """
    from composer_sched.predict import analyse_schedule, check_target

    if mode not in MODES:
        raise ValueError(f'--predict={mode!r} is not allowed: use one of {", ".join(MODES)}.')
    ratios = sorted(plan.budgets)
    top, low = ratios[-1], ratios[0]
    fitted = [top] + ([low] if mode == 'anchor' and len(ratios) > 1 else [])
    targets = [r for r in ratios if r not in fitted]
    why = _loss_driven(loaded)
    curves: dict[float, np.ndarray] = {}
    refused: dict[float, str] = {}
    if why is None:
        curves = ratio_curves(loaded, ratios)
        try:
            shapes = [analyse_schedule(curves[r], name=f'ratio {r:g}') for r in fitted]
        except ValueError as e:
            why = f'the fitted run\'s schedule is not warm-up + stable + cool-down: {e}'
        else:
            # The fit leaves out the first SKIP of the longest run: a ratio ending there has nothing to stand on.
            first_point = max(math.ceil(SKIP * plan.budgets[top]), max(sh.warmup for sh in shapes) + 1)
            for r in targets:
                try:
                    check_target(analyse_schedule(curves[r], name=f'ratio {r:g}'), shapes, name=f'ratio {r:g}')
                    if plan.budgets[r] < first_point:
                        raise ValueError(f'ratio {r:g}: it ends after {plan.budgets[r]} batches, before the first '
                                         f'loss point the law is fitted on (batch {first_point}: the first '
                                         f'skip={SKIP} of the longest run and its warm-up are left out)')
                except ValueError as e:
                    refused[r] = str(e)
    if why is not None:
        refused = {r: why for r in targets}
    if refused and mode != 'shadow':
        r, reason = next(iter(refused.items()))
        more = f' (and {len(refused) - 1} more ratio(s))' if len(refused) > 1 else ''
        raise ValueError(f'--predict {mode}: ratio {r:g} cannot be predicted{more}: {reason}. Train it: run '
                         'without --predict, or with --predict shadow.')
    first, rest = [], []
    for spec in plan.runs:
        every = max(1, plan.budgets[spec.ratio] // EVAL_POINTS)
        if spec.ratio == top:
            keep = tuple((b, p) for b, p in spec.save_at if mode == 'shadow' or
                         (mode == 'anchor' and _saves_for(plan, spec, low, b)))
            first.append(dataclasses.replace(spec, save_at=keep, eval_every=every))
        elif spec.ratio in fitted:
            first.append(dataclasses.replace(spec, eval_every=every))
        elif mode == 'shadow':
            rest.append(dataclasses.replace(spec, eval_every=every))
    setup = PredictSetup(mode, first, rest, fitted, [r for r in targets if r not in refused], refused, curves)
    setup._target_specs = [s for s in plan.runs if s.ratio in setup.targets]
    return setup


def _saves_for(plan: SweepPlan, trunk: RunSpec, ratio: float, batch: int) -> bool:
    return any(s.ratio == ratio and s.trunk_id == trunk.run_id and s.branch_batch == batch for s in plan.runs)


def _history_run(row: dict, lr: np.ndarray, prefix: Optional[dict] = None):
    """A :class:`composer_sched.predict.Run` from a trained row's eval history (and, for a branch, its trunk's
    history up to the branch point: the branch was the trunk until then)."""
    from composer_sched.predict import Run

    h = row.get('history') or {}
    steps, loss = list(h.get('steps') or []), list(h.get('eval_loss') or [])
    metrics = {k: list(v) for k, v in (h.get('metrics') or {}).items()}
    if prefix and row.get('branch_batch'):
        b = row['branch_batch']
        p = prefix.get('history') or {}
        keep = [i for i, s in enumerate(p.get('steps') or []) if s <= b and s not in steps]
        steps = [p['steps'][i] for i in keep] + steps
        loss = [p['eval_loss'][i] for i in keep] + loss
        for k in metrics:
            metrics[k] = [p['metrics'][k][i] for i in keep] + metrics[k]
    if not steps:
        raise ValueError(f'run {row["run_id"]} has no eval history (it was trained without --predict); use '
                         'another --out to fit on a fresh run')
    return Run(lr, eval_loss=(np.array(steps), np.array(loss)), name=f'ratio {row["ratio"]:g} seed {row["seed"]}'), \
        (np.array(loss), {k: np.array(v) for k, v in metrics.items()})


def _backtest_line(fit, anchor, lr, base_runs) -> tuple[str, Optional[str], dict]:
    """With an anchor: how the law (fitted on the longest ratio alone) and each baseline predicted the anchor's
    end, the sweep's own backtest; returns (line, the baseline to use instead of the law or None, errors)."""
    from composer_sched.predict.baselines import baselines

    steps, loss = anchor.points()
    measured = float(loss[-1])
    law = fit.predict(lr, at=int(steps[-1])).loss / measured - 1
    errs = {k: v / measured - 1 for k, v in baselines(base_runs, lr, at=int(steps[-1])).items()
            if v is not None and k != 'trunk_minus_interpolated_gain'}  # needs the anchor itself: not a backtest
    better = {k: e for k, e in errs.items() if abs(e) < abs(law)}
    use = min(better, key=lambda k: abs(better[k])) if better else None
    line = (f'backtest on {anchor.name} (predicted from the longest ratio alone): law {100 * law:+.2f}%, '
            + ', '.join(f'{k} {100 * e:+.2f}%' for k, e in errs.items())
            + (f'; {use} beats the law here, so the predictions use it (flagged)' if use else
               '; the law beats every baseline here'))
    return line, use, {'law': law, **errs}


def predict_rows(setup: PredictSetup, plan: SweepPlan, rows: dict[str, dict], samples_per_batch: Optional[int],
                 echo: Callable[[str], None]) -> tuple[list[dict], list[str]]:
    """Fit the momentum law per seed on the longest trained ratio and return one predicted row per target ratio
    and seed.

    In ``anchor`` mode the shortest ratio is not refitted with the longest: it is the sweep's own backtest (the
    law fitted on the longest ratio alone predicts it, beside the baselines), then corrects the law's predictions
    (:meth:`~composer_sched.predict.LawFit.anchored`); when a baseline predicted the anchor better than the law,
    the targets get that baseline's value (with the law's interval's relative width around it), flagged
    ``estimate`` in the row. Without an anchor, a fit that misses the fitted run's own shape
    (:attr:`~composer_sched.predict.LawFit.misfit`) gives way to :data:`MISFIT_BASELINE` the same way. The
    printed lines say which.

    Args:
        setup: from :func:`prepare_predict`.
        plan: the sweep's plan.
        rows: ``{run_id: row}`` of the trained runs (with their ``history``).
        samples_per_batch: the recipe's batch size (for the rows' ``samples``), or ``None``.
        echo: where the lines go.

    Returns:
        ``(rows, errors)``: predicted rows (``predicted=True``, ``metrics`` = predicted metrics, ``prediction`` =
        loss, its 80% interval (``low``, ``high``), metric intervals, law, estimate, baselines, warnings, fitted
        runs), and a line per seed whose fit failed.
    """
    import time

    from composer_sched.predict import MetricMap, fit_momentum_law
    from composer_sched.predict._law import MISFIT_AUTOCORRELATION, SPREAD_PER_EFOLD
    from composer_sched.predict.baselines import baselines

    out, errors = [], []
    if setup.mode != 'anchor':
        echo(f'--predict {setup.mode}: no second trained run to backtest on in this sweep; the 80% interval uses the '
             'noise of the fit on your run (its residuals, widened where they are autocorrelated) and the package\'s '
             f'calibration (spread {SPREAD_PER_EFOLD} per e-fold of run length, from backtests on real LLM logs: '
             'composer_sched/predict/README.md); --predict anchor or shadow checks it on your recipe')
    for seed in sorted({s.seed for s in plan.runs}):
        specs = {s.ratio: s for s in plan.runs if s.seed == seed}
        try:
            trained = [rows.get(specs[r].run_id) for r in setup.fitted]
            done = [t for t in trained if t is not None and t.get('status') == 'done']
            if len(done) != len(trained):
                raise ValueError('a run to fit on did not finish')
            trunk = done[0]
            pairs = [_history_run(t, setup.curves[r], prefix=trunk if i else None)
                     for i, (r, t) in enumerate(zip(setup.fitted, done))]
            t0 = time.perf_counter()
            fit: Any = fit_momentum_law([pairs[0][0]])
            use, backtest = None, {}  # type: tuple[Optional[str], dict]
            if len(pairs) > 1:
                line, use, backtest = _backtest_line(fit, pairs[1][0], setup.curves[setup.fitted[1]], [pairs[0][0]])
                echo(f'--predict anchor, seed {seed}: {line}')
                fit = fit.anchored(pairs[1][0])
            elif fit.misfit:
                # No second run to backtest on, but the law misses the fitted run's own shape: its extrapolation
                # is not to be trusted over the baseline that reads the trunk off the run itself.
                use = MISFIT_BASELINE
                echo(f'--predict {setup.mode}, seed {seed}: the law misses the shape of the fitted run (residual '
                     f'autocorrelation {fit.autocorrelation:.2f} >= {MISFIT_AUTOCORRELATION}: its residuals stay on '
                     f'one side of the curve), so the predictions use the {MISFIT_BASELINE} baseline with the '
                     "law's interval width (flagged)")
            fit_s = time.perf_counter() - t0
            for w in fit.warnings:
                echo(f'--predict, seed {seed}: warning: {w}; its predictions are flagged (!)')
            loss = np.concatenate([p[1][0] for p in pairs])
            maps = {}
            for name in pairs[0][1][1]:
                values = np.concatenate([p[1][1].get(name, np.full(len(p[1][0]), np.nan)) for p in pairs])
                ok = np.isfinite(values)
                if ok.sum() >= 3:
                    maps[name] = MetricMap(loss[ok], values[ok])
        except ValueError as e:
            errors.append(f'seed {seed}: no prediction: {e}')
            continue
        for r in setup.targets:
            spec = specs[r]
            try:
                p = fit.predict(setup.curves[r], name=f'ratio {r:g}')
            except ValueError as e:
                errors.append(f'seed {seed}: no prediction: {e}')
                continue
            base = baselines([pairs[0][0]], setup.curves[r])
            value, low, high, estimate = p.loss, p.low, p.high, 'law'
            if use is not None and base.get(use) is not None:
                value, estimate = float(base[use]), use  # type: ignore[arg-type]
                low, high = value * p.low / p.loss, value * p.high / p.loss
            pred: dict[str, Any] = {'law': p.law, 'loss': value, 'low': low, 'high': high, 'coverage': p.coverage,
                                    'law_loss': p.loss, 'estimate': estimate, 'n_fits': p.n_fits,
                                    'baselines': base, 'backtest': backtest, 'warnings': list(p.warnings),
                                    'fitted_on': [specs[f].run_id for f in setup.fitted], 'mode': setup.mode,
                                    'fit_s': fit_s, 'metrics': {}}
            metrics = {}
            for name, m in maps.items():
                lo, hi = m.band(low, high)
                metrics[name] = m(value)
                pred['metrics'][name] = {'value': metrics[name], 'low': lo, 'high': hi,
                                         'extrapolated': not m.range[0] <= value <= m.range[1]}
            first = next(iter(pred['metrics'].values()), None)
            if first:
                pred.update(metric_low=first['low'], metric_high=first['high'])
            b = plan.budgets[r]
            out.append({'run_id': predicted_id(spec.run_id), 'ratio': r, 'seed': seed, 'status': 'done',
                        'batches': b, 'samples': b * samples_per_batch if samples_per_batch else None,
                        'trained_batches': 0, 'wall_s': 0.0, 'equiv_wall_s': 0.0, 'device_s': 0.0,
                        'metrics': metrics, 'predicted': True, 'prediction': pred, 'finished_at': time.time()})
    return out, errors


def runs_from_store(path: str, echo: Callable[[str], None] = lambda s: None):
    """The trained runs of a sweep folder (``DIR`` or ``DIR/results.sqlite``) with an eval history, as
    :class:`~composer_sched.predict.Run` objects for a backtest: per recipe configuration and seed, each ratio's
    run (a branch's history prefixed by its trunk's), its LR from the recorded recipe's preview (exact).

    Returns:
        ``(groups, skipped)``: ``[(label, runs)]`` (one group per configuration and seed, ``runs`` named
        ``r<ratio>``), and how many trained runs had no eval history (trained without ``--predict``).

    Raises:
        ValueError: no ``results.sqlite`` there, or no run with an eval history.
    """
    import os
    import tempfile

    from composer_sched.sweep.store import ResultsStore
    from composer_sched.sweep.target import SweepTarget

    db = os.path.join(path, 'results.sqlite') if os.path.isdir(path) else path
    if not os.path.isfile(db):
        raise ValueError(f'{path}: no results.sqlite there (give a sweep folder, its results.sqlite, or CSV/JSON logs)')
    store = ResultsStore(db, readonly=True)
    groups, skipped = [], 0
    for config_hash, recipe_yaml in store.sweeps().items():
        rows = [r for r in store.rows(config_hash, 'done') if not r['predicted']]
        with_history = [r for r in rows if (r.get('history') or {}).get('steps')]
        skipped += len(rows) - len(with_history)
        if not with_history:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            recipe = os.path.join(tmp, 'recipe.yaml')
            with open(recipe, 'w') as f:
                f.write(recipe_yaml)
            loaded = SweepTarget(recipe).load()
        curves = ratio_curves(loaded, sorted({r['ratio'] for r in with_history}))
        by_id = {r['run_id']: r for r in rows}
        for seed in sorted({r['seed'] for r in with_history}):
            runs = []
            for r in (x for x in with_history if x['seed'] == seed):
                trunk = by_id.get(r.get('branched_from') or '')
                run, _ = _history_run(r, curves[r['ratio']], prefix=trunk)
                runs.append(dataclasses.replace(run, name=f'r{r["ratio"]:g}'))
            groups.append((f'{loaded.name}-{config_hash[:8]} seed {seed}', runs))
    if not groups:
        raise ValueError(f'{db}: no trained run with an eval history (sweeps record one with --predict); nothing to '
                         'backtest')
    return groups, skipped
