"""``composer-sched lr-find``: LR range test on a recipe; prints every rule's suggestion, writes ``lr_find.png`` and
the override to use (``optimizer.lr=...``)."""
from __future__ import annotations

COMMAND = 'lr-find'
HELP = ('LR range test on a recipe: ramp the LR over a few batches, print the suggestions (fastai, Lightning, '
        "AutoWU's GP), write lr_find.png and the optimizer.lr override to use.")
EPILOG = """The recipe is a YAML file or a bundled name (default: the digits CNN); key=value items are recipe overrides.
Nothing is trained for good: the model is thrown away after the test. Method card: composer_sched/lr_find/README.md.

examples:
  composer-sched lr-find                                      # the bundled digits CNN
  composer-sched lr-find digits_cnn optimizer.momentum=0.5 --max-lr 3 --num-batches 80
  composer-sched lr-find my.yaml --mode linear --min-lr 0.001 --max-lr 1 -o my_lr_find.png
  composer -n 2 -m composer_sched.cli lr-find                 # 2 processes: the loss is averaged over ranks
"""


def add_arguments(parser):
    from composer_sched.cli._args import accept_trailing_overrides

    accept_trailing_overrides(parser, 'overrides')  # key=value items may also follow the options
    parser.add_argument('recipe', nargs='?', default=None,
                        help='recipe file or bundled name (default: the digits CNN); key=value items are overrides')
    parser.add_argument('overrides', nargs='*', help='key=value recipe overrides, e.g. optimizer.momentum=0.5')
    parser.add_argument('--min-lr', default='1e-7', help='first LR of the ramp, > 0 (default 1e-7)')
    parser.add_argument('--max-lr', default='10', help='last LR of the ramp, > min-lr (default 10)')
    parser.add_argument('--num-batches', default='100', help='ramp length in batches, >= 2 (default 100)')
    parser.add_argument('--mode', default='exp', help="'exp' (default) or 'linear'")
    parser.add_argument('--stop-factor', default='4', help="stop once the smoothed loss passes this multiple of its "
                        "best, > 1 (default 4; 'none': run the whole ramp)")
    parser.add_argument('--peak-divisor', default='2', help='peak LR = min(GP minimum / this, where the loss floor '
                        'starts), >= 1 (default 2)')
    parser.add_argument('--use', default='peak', help='the rule whose LR the printed override uses: valley, slide, '
                        'minimum, steep, lightning, gp_minimum or peak (default)')
    parser.add_argument('-o', '--output', default='lr_find.png',
                        help='plot path, .png (default lr_find.png), .pdf or .svg; no extension: .png is added')


def _number(name, text, kind=float):
    """A number from an option (lr_find checks its range and names the argument)."""
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f'--{name}={text!r} is not allowed: give {"an integer" if kind is int else "a number"}.') \
            from None


def run(args) -> int:
    import logging
    import os
    import sys
    import warnings

    from composer.utils import dist

    from composer_sched.lr_find import RULES, lr_find
    from composer_sched.recipes import load_recipe
    from composer_sched.recipes.overrides import split_recipe_args

    if args.use not in RULES:
        raise ValueError(f'--use={args.use!r} is not allowed: choose one of {", ".join(RULES)}.')
    stop = None if str(args.stop_factor).lower() == 'none' else _number('stop-factor', args.stop_factor)
    kw = dict(min_lr=_number('min-lr', args.min_lr), max_lr=_number('max-lr', args.max_lr),
              num_batches=_number('num-batches', args.num_batches, int), mode=args.mode, stop_factor=stop,
              peak_divisor=_number('peak-divisor', args.peak_divisor))
    from composer_sched.paths import IMAGE_SUFFIXES, png_path

    output = png_path(args.output, '-o', IMAGE_SUFFIXES)  # before the test: an unwritable path must not waste it
    path, overrides = split_recipe_args([args.recipe, *args.overrides])
    recipe = load_recipe(path, overrides)
    warnings.filterwarnings('ignore')
    logging.getLogger('composer').setLevel(logging.ERROR)
    result = lr_find(recipe, **kw)
    if dist.get_global_rank() != 0:  # every rank has the same result; one prints
        return 0
    print(f'# LR range test: {recipe.path}' + (f' with {" ".join(recipe.overrides)}' if recipe.overrides else '') +
          f' (world size {dist.get_world_size()}; recipe lr {recipe.lr:g})')
    print(result.table())
    print(f'wrote {result.plot(output, title=f"LR range test: {os.path.basename(recipe.path)}")}')
    lr = result[args.use]
    if lr is None:
        print(f'composer-sched lr-find: no {args.use} suggestion: the ramp gave too few batches; try more '
              '--num-batches or a larger --max-lr', file=sys.stderr)
        return 1
    print(f'use: optimizer.lr={lr:.3g}   ({args.use})')
    return 0
