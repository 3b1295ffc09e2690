"""``composer-sched sweep``: train a recipe at several scale-schedule ratios and read the cost/quality trade-off."""
from __future__ import annotations

COMMAND = 'sweep'
HELP = ('Train a recipe at several scale-schedule ratios (resumable, parallel, shared trunks) and report the '
        'cost/quality trade-off.')
EPILOG = """examples:
  composer-sched sweep                                   # the bundled digits CNN at 0.25,0.5,0.75,1.0
  composer-sched sweep --seeds 3 --workers 2 --out runs/sweep
  composer-sched sweep my_recipe.yaml --ratios 0.1,0.3,1 schedulers[0].t_cooldown=0.2dur
  composer-sched sweep --backend ray --address auto      # one Ray task per run, results in the same database
  composer-sched sweep --backend slurm --slurm partition=gpu --slurm time=4:00:00  # one Slurm job per run
  composer-sched sweep --procs-per-run 2 --ratios 0.5,0.75,1  # each run: composer -n 2 (gloo CPU, NCCL GPU)
  composer-sched sweep --out runs/sweep                  # again: finished runs are skipped, the rest redone
  composer-sched sweep --predict only                    # train ratio 1 alone, predict the others (~1.0x)
  composer-sched sweep --predict anchor                  # also train the smallest ratio, predict the middle ones
  composer-sched sweep --predict shadow --seeds 5        # predict, then train every ratio and report the errors
  composer-sched sweep --log mlflow                      # a parent run per sweep, a child per run (MLflow)
  composer-sched sweep --ratios 1.5,2 --extend           # continue the finished ratio-1 runs (their final checkpoints)

outputs in --out: results.sqlite (one row per run of every sweep there), results.csv and tradeoff.png (all of
them), and per recipe configuration <name>-<hash>/ with its results.csv, tradeoff.png and recipe.yaml.
A recipe's own scale_schedule_ratio and ScaleSchedule ratio multiply each sweep ratio.
--predict rows are marked predicted (table: 'p', results.csv: predicted=True with its 80% interval); a ratio the
law cannot predict (cosine, AutoWU, another warm-up) stops --predict only/anchor before training (exit 2) and is
trained without a prediction under --predict shadow.
--log mlflow logs to MLFLOW_TRACKING_URI, else to --out's mlflow.db (mlflow ui --backend-store-uri
sqlite:///<out>/mlflow.db); a recipe with loggers.mlflow logs there too. --log wandb: one W&B run per sweep run,
grouped by sweep (WANDB_MODE=offline needs no account). Reruns reuse the tracker's runs.
The longest run of each seed keeps its final checkpoint in --out's final/ (its weights and optimizer state); a later
sweep with --extend continues it to longer ratios, training only the extra batches (a re-warm, then the recipe's
decay; the row's origin says 'continued from ratio R seed S'). A kept stable-phase checkpoint (WSD) extends exactly
and is preferred; a run with nothing to continue is refused (exit 2).
exit code: 0 all runs finished, 1 some run failed (recorded with its error) or a prediction failed, 2 bad input.
"""


def add_arguments(parser):
    from composer_sched.cli._args import accept_trailing_overrides

    accept_trailing_overrides(parser, 'items')  # key=value items may also follow the options
    parser.add_argument('items', nargs='*', metavar='[RECIPE] [key=value ...]',
                        help='a recipe YAML (default: the bundled digits CNN), then overrides such as max_duration=4ep')
    parser.add_argument('--ratios', default=None,
                        help='comma-separated scale-schedule ratios, each a decimal > 0 (default 0.25,0.5,0.75,1.0, '
                             'leaving out those the schedule does not fit)')
    parser.add_argument('--seeds', type=int, default=1, help='seeds 0..N-1 per ratio, N >= 1 (default 1)')
    parser.add_argument('--workers', type=int, default=1, help='parallel runs on this machine, >= 1 (default 1)')
    parser.add_argument('--backend', default='local', help="'local' (default), 'ray' or 'slurm'")
    parser.add_argument('--slurm', action='append', default=None, metavar='KEY=VALUE',
                        help='a Slurm option of --backend slurm (repeatable): partition, account, time, qos, '
                             'constraint, checkpoint_every (batches between resume checkpoints)')
    parser.add_argument('--procs-per-run', type=int, default=None, metavar='N',
                        help="processes per run, >= 1; N > 1 launches each run with Composer's launcher "
                             "(composer -n N). Default: the recipe's variables.resources.processes, else 1")
    parser.add_argument('--address', default=None, help="Ray cluster address (default: a local Ray); e.g. 'auto'")
    parser.add_argument('--out', default='runs/sweep', help='results folder (default runs/sweep)')
    parser.add_argument('--tolerance', type=float, default=0.01,
                        help='recommend the smallest ratio within this of the best quality, >= 0 (default 0.01)')
    parser.add_argument('--metric', default=None, help="eval metric to judge by (default: the recipe's first)")
    parser.add_argument('--no-share', action='store_true', help='run every ratio independently (no shared trunks)')
    parser.add_argument('--predict', default=None, choices=('only', 'anchor', 'shadow'),
                        help='only: train the longest ratio and predict the others (momentum law); anchor: also train '
                             'the shortest ratio; shadow: predict, then train every ratio and report the errors')
    parser.add_argument('--no-plot', action='store_true', help='write no tradeoff.png (the CSVs and the report only)')
    parser.add_argument('--extend', action='store_true',
                        help="continue finished runs: each ratio to train continues the longest shorter finished run "
                             "of its seed from its final checkpoint (--out's final/), training only the extra batches")
    parser.add_argument('--log', default=None, metavar='TRACKER',
                        help="log the sweep to 'mlflow' (a parent run, a child per run) and/or 'wandb' "
                             "(comma-separated); default: none, or mlflow when the recipe has loggers.mlflow")


DEFAULT_RATIOS = '0.25,0.5,0.75,1.0'


def run(args) -> int:
    from composer_sched.sweep.tracking import start_writer

    start_writer(args.log)  # before the recipe's torch and Composer imports: MLflow's import overlaps them
    from composer_sched.recipes.overrides import split_recipe_args
    from composer_sched.sweep import SweepTarget, parse_ratios, run_sweep

    recipe, overrides = split_recipe_args(args.items)
    ratios = parse_ratios(args.ratios or DEFAULT_RATIOS)
    target = SweepTarget(recipe, overrides, processes=args.procs_per_run)
    # Default ratios the schedule does not fit (e.g. 0.25 of a short run with a long warm-up) are left out with a
    # printed reason; ratios the user chose must all fit.
    out = run_sweep(target, ratios, seeds=args.seeds, out_dir=args.out, workers=args.workers, backend=args.backend,
                    address=args.address, share_trunks=not args.no_share, tolerance=args.tolerance,
                    metric=args.metric, echo=lambda s: print(s, flush=True), drop_unfit=args.ratios is None,
                    plot=not args.no_plot, predict=args.predict, slurm=args.slurm, log=args.log or (),
                    extend=args.extend)
    print()
    if out.report is not None:
        print(out.report.text())
    print()
    written = [out.outputs[k] for k in ('config_csv', 'config_plot', 'csv', 'plot') if k in out.outputs]
    print(f'results: {out.store.path} ({len(out.rows)} runs of this sweep)'
          + (f'; {", ".join(written)}' if written else ''))
    for line in out.prediction_errors:
        print(f'--predict: {line}')
    if out.failed:
        print(f'{len(out.failed)} run(s) failed (errors in results.sqlite/results.csv); rerun the same command to '
              'retry them.')
    return out.exit_code
