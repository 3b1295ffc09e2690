"""Ratio sweeps: the cost/quality trade-off of a recipe in one call, resumable, parallel, with shared trunks.

* :mod:`~composer_sched.sweep.plan`: which runs exist and which branch from a shared trunk (checked batch by batch
  with :func:`composer_sched.previewing.preview`).
* :mod:`~composer_sched.sweep.store`: the sqlite record, one row per run, written atomically when it finishes.
* :mod:`~composer_sched.sweep.execute`: one run (a real Composer ``Trainer``; trunks save, branches load).
* :mod:`~composer_sched.sweep.runner`: skip finished runs, run the rest locally, in worker processes or on Ray.
* :mod:`~composer_sched.sweep.report`: table, Pareto frontier, fitted curve, recommendation, ``tradeoff.png``.

Example:
    >>> from composer_sched.sweep import SweepTarget, run_sweep
    >>> out = run_sweep(SweepTarget(), [0.25, 0.5, 0.75, 1.0], seeds=2, out_dir='sweep')  # doctest: +SKIP
    >>> print(out.report.text())  # doctest: +SKIP
"""
from composer_sched.sweep.plan import RunSpec, SweepPlan, branch_points, parse_ratios, plan_sweep
from composer_sched.sweep.report import SweepReport, build_report
from composer_sched.sweep.runner import SweepOutcome, run_sweep
from composer_sched.sweep.store import ResultsStore
from composer_sched.sweep.target import SweepTarget

__all__ = ['SweepTarget', 'run_sweep', 'SweepOutcome', 'ResultsStore', 'RunSpec', 'SweepPlan', 'plan_sweep',
           'branch_points', 'parse_ratios', 'SweepReport', 'build_report']
