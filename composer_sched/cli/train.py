"""``composer-sched train``: train a YAML recipe with Composer (or check it and show its schedule with ``--dry-run``)."""
from __future__ import annotations

import argparse

COMMAND = 'train'
HELP = 'Train a YAML recipe with a Composer Trainer and print the final metrics (--dry-run: check it, show its schedule).'
EPILOG = """The recipe is a YAML file or a bundled recipe name (composer-sched list --recipes); without one, the bundled
default (a small CNN on scikit-learn's digits). Overrides are key=value (values parsed as YAML), ~key removes a key.
Errors in the recipe are reported with the file and key path, exit code 2.

examples:
  composer-sched train                                   # the bundled default recipe
  composer-sched train yamls/digits_cnn.yaml max_duration=2ep seed=1
  composer-sched train algorithms/wsd algorithms.wsd.t_cooldown=0.3dur max_duration=20ep
  composer-sched train cifar10_resnet20 data.path=~/data/cifar-10-batches-py
  composer-sched train schedules/sgdr --dry-run --plot sgdr.png
  composer -n 2 -m composer_sched.cli train max_duration=3ep   # 2 processes, 11 batches per epoch each
"""


def add_arguments(parser):
    from composer_sched.cli._args import accept_trailing_overrides

    accept_trailing_overrides(parser, 'overrides')  # key=value items may also follow the options
    parser.add_argument('recipe', nargs='?', default=None,
                        help='recipe file or bundled name (default: the digits CNN); key=value items are overrides')
    parser.add_argument('overrides', nargs='*', help='key=value overrides, e.g. max_duration=20ep')
    parser.add_argument('--dry-run', action='store_true', help='check the recipe (everything training checks, '
                        'Trainer included), print it resolved and the schedule it will run; train nothing')
    parser.add_argument('--plot', nargs='?', const='', default=None, metavar='PNG',
                        help='with --dry-run: also write a PNG of the LR per batch (default: <recipe>.png)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar and no progress lines')
    parser.add_argument('--progress-every', type=int, default=None, metavar='N',
                        help='when the output is not a terminal: a progress line every N batches, N >= 1 '
                             '(default: about 20 lines per run); on a terminal, Composer\'s progress bar')


def split_recipe_args(recipe, overrides):
    """``recipe`` may be the first override when no recipe is given (``train max_duration=2ep``)."""
    import os

    if recipe is not None and '=' in recipe and not os.path.exists(recipe) or (recipe or '').startswith('~'):
        return None, [recipe] + list(overrides)
    return recipe, list(overrides)


def print_schedule(recipe) -> None:
    """The schedule's key points: batch, epoch, multiplier and learning rate (for a loss-driven schedule such as
    AutoWU: what is known before training, and that the rest depends on the loss)."""
    outlook = recipe.outlook()
    if outlook is not None:
        print(outlook.text(recipe.dataloader_len))
        return
    points = recipe.key_points()
    n = len(recipe.preview())
    dl = recipe.dataloader_len
    print(f'schedule: {n} batches ({dl} per epoch, scale_schedule_ratio {recipe.scale_schedule_ratio:g}), '
          f'peak lr {recipe.lr:g}')
    print(f'  {"batch":>7} {"epoch":>7} {"multiplier":>11} {"lr":>11}')
    for k, v in points:
        print(f'  {k:>7} {k / dl:>7.2f} {v:>11.5f} {v * recipe.lr:>11.5g}')


def run(args) -> int:
    import logging
    import os
    import warnings

    from composer.utils import dist

    from composer_sched.cli import RunFailed
    from composer_sched.recipes import load_recipe

    path, overrides = split_recipe_args(args.recipe, args.overrides)
    if args.plot is not None and not args.dry_run:
        raise ValueError('--plot is not allowed without --dry-run (the plot shows the schedule before training).')
    if args.progress_every is not None and args.progress_every < 1:
        raise ValueError(f'--progress-every={args.progress_every} is not allowed: give an integer >= 1.')
    recipe = load_recipe(path, overrides)
    warnings.filterwarnings('ignore')
    logging.getLogger('composer').setLevel(logging.ERROR)
    if args.dry_run:
        recipe.check_trainer()  # everything training checks before its first batch
        print(f'# {recipe.path}' + (f' with {" ".join(recipe.overrides)}' if recipe.overrides else ''))
        print(recipe.to_yaml())
        print_schedule(recipe)
        if args.plot is not None:
            stem = os.path.splitext(os.path.basename(recipe.path))[0]
            print(f'wrote {recipe.plot(args.plot or f"{stem}.png")}')
        return 0
    kwargs = {'progress_bar': False} if args.quiet else {}
    trainer = recipe.build_trainer(progress_every=args.progress_every, **kwargs)
    try:
        trainer.fit()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # the recipe was accepted: a failure now is the run's, exit code 1
        from composer_sched.cli import one_line

        if os.environ.get('COMPOSER_SCHED_TRACEBACK'):
            raise
        raise RunFailed(f'training {recipe.path} failed at batch {int(trainer.state.timestamp.batch)}: '
                        f'{one_line(e)}') from None
    if dist.get_global_rank() == 0:
        print(f'trained {recipe.path}: {trainer.state.timestamp.batch.value} batches, '
              f'{trainer.state.timestamp.epoch.value} epochs, world size {dist.get_world_size()}')
        for label, metrics in trainer.state.eval_metrics.items():
            for name, metric in metrics.items():
                print(f'final {label} {name}: {float(metric.compute()):.4f}')
        for name, metric in trainer.state.train_metrics.items():
            print(f'final train {name}: {float(metric.compute()):.4f}')
    trainer.close()
    return 0
