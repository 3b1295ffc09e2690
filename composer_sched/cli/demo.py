"""``composer-sched demo``: the package's main job on the bundled data: a ratio sweep of the default recipe
(the digits CNN with a WSD schedule), with shared trunks, in a couple of minutes on two CPU cores."""
from __future__ import annotations

COMMAND = 'demo'
HELP = ('Sweep the bundled digits-CNN recipe over ratios 0.25..1 (2 seeds, shared trunks) and print the '
        'cost/quality table, the recommendation and where the outputs are.')
EPILOG = """examples:
  composer-sched demo                       # outputs in runs/demo
  composer-sched demo --out /tmp/demo --seeds 3
  composer-sched demo                       # again: every finished run is skipped
"""


def add_arguments(parser):
    parser.add_argument('--out', default='runs/demo', help='results folder (default runs/demo)')
    parser.add_argument('--seeds', type=int, default=2, help='seeds per ratio, >= 1 (default 2)')
    parser.add_argument('--workers', type=int, default=1, help='parallel runs, >= 1 (default 1)')


def run(args) -> int:
    import os

    from composer_sched.sweep import SweepTarget, run_sweep

    print('composer-sched demo: `composer-sched sweep --seeds 2` on the bundled digits-CNN recipe (WSD schedule)\n')
    out = run_sweep(SweepTarget(), [0.25, 0.5, 0.75, 1.0], seeds=args.seeds, out_dir=args.out, workers=args.workers,
                    echo=lambda s: print(s, flush=True))
    print()
    if out.report is not None:
        print(out.report.text())
    print('\noutputs:')
    print(f'  {os.path.join(out.out_dir, "results.sqlite")}  one row per run (sqlite3 {out.out_dir}/results.sqlite '
          '"select ratio, seed, metrics from runs")')
    print(f'  {os.path.join(out.out_dir, "results.csv")}')
    if out.report is not None and out.report.plot_path:
        print(f'  {out.report.plot_path}  quality against cost, Pareto frontier, fitted curve')
    print('try: composer-sched sweep --help')
    return out.exit_code
