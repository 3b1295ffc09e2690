"""``composer-sched predict backtest``: how well would the loss laws have predicted the runs you trained?"""
from __future__ import annotations

COMMAND = 'predict'
HELP = ('Backtest loss prediction on runs you trained (a sweep folder, or CSV/JSON logs with step, lr, loss): each '
        'run predicted from the others, per family x mode x law, beside the baselines.')
EPILOG = """Inputs: a sweep folder (or its results.sqlite; runs trained with --predict carry the eval history) or log
files with columns step, lr, loss (CSV header or JSON). A log's family is its file name without numbers
(cosine_24000 -> cosine). Modes: only (one run with a cool-down predicts every other run the refusal rule
accepts), anchor (the longest and shortest runs of a family predict those in between). Printed per family x mode x
law: median and worst relative error, how often the 80% interval covered the measurement, the share predicted too
low, and each baseline's median error; then the interval spread the cases call for. Method card:
composer_sched/predict/README.md.

examples:
  composer-sched predict backtest sweeps/                       # a sweep folder (shadow sweeps: every ratio)
  composer-sched predict backtest ../shared/data/multipowerlaw-curves/csv_100/*.csv
  composer-sched predict backtest logs/*.json --warmup 2160 --coverage 0.9 -v
"""


def add_arguments(parser):
    parser.add_argument('action', choices=('backtest',), help='backtest: predict each run from the others')
    parser.add_argument('paths', nargs='+', help='a sweep folder or results.sqlite, or CSV/JSON log files')
    parser.add_argument('--coverage', default='0.8', help='the intervals\' coverage, in (0, 1) (default 0.8)')
    parser.add_argument('--warmup', default=None, help='logs: batches of linear warm-up before the first logged step '
                        '(default: the earliest first logged step at the peak LR)')
    parser.add_argument('--laws', default='momentum,multi_power,adiabatic',
                        help='comma-separated (default all three; adiabatic needs a constant-LR run among the runs)')
    parser.add_argument('--modes', default='only,anchor', help='comma-separated (default both)')
    parser.add_argument('-v', '--verbose', action='store_true', help='also print every case')


def _number(name, text, kind=float):
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise ValueError(f'--{name} must be a number, got {text!r}') from None


def run(args) -> int:
    import math
    import os

    from composer_sched.predict._law import SPREAD_PER_EFOLD
    from composer_sched.predict.backtest import backtest, calibrate_spread, format_summary, summarize

    coverage = _number('coverage', args.coverage)
    if not (math.isfinite(coverage) and 0 < coverage < 1):
        raise ValueError(f'--coverage must be in (0, 1), got {args.coverage}')
    warmup = None if args.warmup is None else _number('warmup', args.warmup, int)
    if warmup is not None and warmup < 0:
        raise ValueError(f'--warmup must be >= 0, got {warmup}')
    laws = tuple(x.strip() for x in args.laws.split(',') if x.strip())
    modes = tuple(x.strip() for x in args.modes.split(',') if x.strip())
    folders = [p for p in args.paths if os.path.isdir(p) or p.endswith('.sqlite')]
    logs = [p for p in args.paths if p not in folders]
    groups: list = []
    if folders:
        from composer_sched.sweep.predicted import runs_from_store

        for folder in folders:
            found, skipped = runs_from_store(folder)
            groups += [(label, runs, None) for label, runs in found]
            if skipped:
                print(f'{folder}: {skipped} trained run(s) without an eval history left out (trained without '
                      '--predict)')
    if logs:
        from composer_sched.predict.logs import read_logs

        runs, families = read_logs(logs, warmup=warmup)
        groups.append((f'{len(runs)} log file(s)', runs, families))
    cases = []
    for label, runs, fams in groups:
        refused: list = []
        found = backtest(runs, families=fams, laws=laws, modes=modes, coverage=coverage, refused=refused)
        print(f'== {label}: {len(runs)} runs, {len(found)} backtest case(s), {len(refused)} same-family pair(s) '
              'refused')
        if found:
            print(format_summary(summarize(found)))
        if args.verbose:
            for c in found:
                print(f'  {c.mode:6} {c.law:11} {"+".join(c.fitted)} -> {c.target}: measured {c.measured:.4f}, '
                      f'predicted {c.predicted:.4f} [{c.low:.4f}, {c.high:.4f}] ({100 * c.error:+.2f}%)')
        for family, mode, law, fitted, target, reason in refused:
            if args.verbose or 'horizon' in reason:  # what the package says it cannot predict for a family
                print(f'  refused ({family}, {mode}, {law}) {"+".join(fitted)} -> {target}: {reason}')
        cases += found
    if not cases:
        print('no backtest case: no pair of runs the refusal rule accepts (same peak LR and warm-up, a cool-down of '
              'the same shape, within 2x in length); train a second run of the family')
        return 0
    print(f'\nall: {len(cases)} cases, {100 * sum(c.covered for c in cases) / len(cases):.0f}% covered by the '
          f'{coverage:.0%} intervals, {100 * sum(c.error < 0 for c in cases) / len(cases):.0f}% predicted too low; the '
          f'spread these cases call for: {calibrate_spread(cases, coverage):.4f} per e-fold of run length (the '
          f'package uses {SPREAD_PER_EFOLD})')
    return 0
