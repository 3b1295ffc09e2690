"""``composer-sched plot``: a PNG of a schedule's LR multipliers, batch by batch, as the Trainer applies them.

The target is a registered method (with ``key=value`` parameters) or a recipe (with ``key=value`` overrides): a
recipe plots the LR of its run (its schedulers, algorithms, ratio, dataloader length and peak LR).
"""
from __future__ import annotations

COMMAND = 'plot'
HELP = 'Plot the LR a run gets at every batch: a registered method with key=value parameters, or a recipe.'
EPILOG = """examples:
  composer-sched plot wsd --max-duration 1000ba -o wsd.png
  composer-sched plot sgdr --max-duration 20ep --dataloader-len 50 t_0=0.1dur t_mult=2
  composer-sched plot cosine_annealing --max-duration 1000ba --ratios 0.25,0.5,1 t_warmup=50ba
  composer-sched plot yamls/digits_cnn.yaml                   # a recipe file: its run's LR per batch
  composer-sched plot algorithms/wsd --ratios 0.5,1 algorithms.wsd.t_cooldown=0.4dur   # a bundled recipe
"""


def add_arguments(parser):
    from composer_sched.cli._args import accept_trailing_overrides

    accept_trailing_overrides(parser, 'params')  # key=value items may also follow the options
    parser.add_argument('target', help='a registered method (composer-sched list) or a recipe file / bundled name')
    parser.add_argument('params', nargs='*', help='method parameters or recipe overrides, as key=value')
    parser.add_argument('--max-duration', default=None,
                        help='method only: training length, e.g. 1000ba or 20ep (default 1000ba)')
    parser.add_argument('--dataloader-len', type=int, default=None, help='method only: batches per epoch')
    parser.add_argument('--ratios', default=None, help='comma-separated scale-schedule ratios to overlay '
                        '(default: 1, or the recipe\'s ratio)')
    parser.add_argument('-o', '--output', default=None, help='PNG path (default: <method or recipe>.png)')


def _is_recipe(target: str) -> bool:
    import os

    from composer_sched.schedules.registry import method_names

    if target in method_names():
        return False
    return target.endswith(('.yaml', '.yml')) or os.path.exists(target) or '/' in target or not target.isidentifier() \
        or _bundled(target)


def _bundled(target: str) -> bool:
    from composer_sched.recipes.bundled import bundled_recipes

    return target in bundled_recipes()


def run(args) -> int:
    import os

    from composer_sched.adapters.durations import check_ratio

    try:
        ratios = tuple(check_ratio('--ratios', float(r)) for r in args.ratios.split(',')) if args.ratios else ()
    except ValueError:
        raise ValueError(f'--ratios={args.ratios!r} is not allowed: give comma-separated numbers > 0.') from None
    from composer_sched.recipes.overrides import parse_overrides, split_recipe_args

    target, params = split_recipe_args([args.target, *args.params])
    if target is None:
        raise ValueError(f'{args.target!r} is not allowed first: name a method (composer-sched list) or a recipe, '
                         'then key=value items.')
    if _is_recipe(target):
        return _plot_recipe(args, target, params, ratios)
    from composer_sched.adapters.composer import ComposerScheduler
    from composer_sched.paths import png_path
    from composer_sched.previewing import plot_schedule, preview

    max_duration = args.max_duration or '1000ba'
    sched = ComposerScheduler(target, **parse_overrides(params))
    out = png_path(args.output or f'{target}.png', '-o')  # checked before drawing; the path reported is the written one
    plot_schedule(sched, max_duration, out, ratios=ratios or (1.0,), dataloader_len=args.dataloader_len,
                  title=repr(sched))
    values = preview(sched, max_duration, dataloader_len=args.dataloader_len)
    n = len(values)
    marks = sorted({0, n // 4, n // 2, 3 * n // 4, n - 1})
    print(f'{sched!r} over {max_duration}: ' + ', '.join(f'batch {k}: {values[k]:.4g}' for k in marks))
    print(f'wrote {os.fspath(out)}')
    return 0


def _plot_recipe(args, target, overrides, ratios) -> int:
    import os

    from composer_sched.cli.train import print_schedule
    from composer_sched.recipes import load_recipe

    if args.max_duration is not None or args.dataloader_len is not None:
        raise ValueError('--max-duration and --dataloader-len are not allowed with a recipe: the recipe sets them '
                         '(override with max_duration=...).')
    from composer_sched.paths import png_path

    recipe = load_recipe(target, overrides)
    out = png_path(args.output or f'{os.path.splitext(os.path.basename(recipe.path))[0]}.png', '-o')
    print_schedule(recipe)
    print(f'wrote {recipe.plot(out, ratios)}')
    return 0
