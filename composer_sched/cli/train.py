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
  composer -n 2 -m composer_sched.cli train max_duration=1ep   # 2 processes under Composer's launcher
"""


class TrailingOverrides(argparse.ArgumentParser):
    """A sub-command parser that also takes ``key=value`` items after options (``train r.yaml --dry-run a=1``).

    argparse fills a ``nargs='*'`` positional only at its first occurrence; later ``key=value`` items would be
    "unrecognized arguments", so they are appended to :attr:`dest` here.
    """
    dest = 'overrides'

    def parse_known_args(self, args=None, namespace=None):
        ns, extras = super().parse_known_args(args, namespace)
        items = [e for e in extras if not e.startswith('-') and ('=' in e or e.startswith('~'))]
        if items:
            setattr(ns, self.dest, list(getattr(ns, self.dest, None) or []) + items)
        return ns, [e for e in extras if e not in items]


class _TrailingParams(TrailingOverrides):
    dest = 'params'


def add_arguments(parser):
    parser.__class__ = TrailingOverrides
    parser.add_argument('recipe', nargs='?', default=None,
                        help='recipe file or bundled name (default: the digits CNN); key=value items are overrides')
    parser.add_argument('overrides', nargs='*', help='key=value overrides, e.g. max_duration=20ep')
    parser.add_argument('--dry-run', action='store_true', help='check the recipe, print it resolved and the '
                        'schedule it will run; train nothing')
    parser.add_argument('--plot', nargs='?', const='', default=None, metavar='PNG',
                        help='with --dry-run: also write a PNG of the LR per batch (default: <recipe>.png)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def split_recipe_args(recipe, overrides):
    """``recipe`` may be the first override when no recipe is given (``train max_duration=2ep``)."""
    import os

    if recipe is not None and '=' in recipe and not os.path.exists(recipe) or (recipe or '').startswith('~'):
        return None, [recipe] + list(overrides)
    return recipe, list(overrides)


def print_schedule(recipe) -> None:
    """The schedule's key points: batch, epoch, multiplier and learning rate."""
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

    from composer_sched.recipes import load_recipe

    path, overrides = split_recipe_args(args.recipe, args.overrides)
    if args.plot is not None and not args.dry_run:
        raise ValueError('--plot is not allowed without --dry-run (the plot shows the schedule before training).')
    recipe = load_recipe(path, overrides)
    if args.dry_run:
        print(f'# {recipe.path}' + (f' with {" ".join(recipe.overrides)}' if recipe.overrides else ''))
        print(recipe.to_yaml())
        print_schedule(recipe)
        if args.plot is not None:
            stem = os.path.splitext(os.path.basename(recipe.path))[0]
            print(f'wrote {recipe.plot(args.plot or f"{stem}.png")}')
        return 0
    warnings.filterwarnings('ignore')
    logging.getLogger('composer').setLevel(logging.ERROR)
    kwargs = {'progress_bar': False} if args.quiet else {}
    trainer = recipe.build_trainer(**kwargs)
    trainer.fit()
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
