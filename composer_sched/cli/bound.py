"""``composer-sched bound``: Theorem 1 of Schaipp et al. (2025) for named schedules or a recipe, over horizons."""
from __future__ import annotations

import math

COMMAND = 'bound'
HELP = ('Convex bound (Theorem 1): optimal base LR and bound of schedules or a recipe at several horizons; '
        'prints a table and writes a PNG of the bound curves.')
EPILOG = """Schedules are registered methods run for T batches as the Trainer applies them (composer-sched list),
each name followed by its key=value parameters. With --paper they are the paper's classes (wsd, cosine, constant,
sqrt, linear, polynomial) built with steps = T + 1 and constructor keywords.

examples:
  composer-sched bound wsd t_cooldown=0.2dur cosine_annealing --horizons 100,1000,10000
  composer-sched bound --paper wsd cooldown_len=0.2 cosine linear --horizons 100 -o paper.png
  composer-sched bound --recipe digits_cnn --horizons 500,2000 -G 1 -D 1
"""

PAPER_NAMES = ('wsd', 'cosine', 'constant', 'sqrt', 'linear', 'polynomial')


def add_arguments(parser):
    from composer_sched.cli._args import accept_trailing_overrides

    accept_trailing_overrides(parser, 'schedules')  # NAME key=value items may also follow the options
    parser.add_argument('schedules', nargs='*', metavar='SCHEDULE [key=value ...]',
                        help='schedule names, each followed by its parameters')
    parser.add_argument('--recipe', default=None, help='a recipe (path or bundled name) instead of / besides names')
    parser.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                        help='recipe override (repeatable)')
    parser.add_argument('--horizons', default=None,
                        help="comma-separated horizons T in batches (default 1000; a recipe: its own length)")
    parser.add_argument('-G', type=float, default=1.0, help='gradient-norm bound G (default 1)')
    parser.add_argument('-D', type=float, default=1.0, help='distance to the solution D (default 1)')
    parser.add_argument('--base-lr', type=float, default=None, help='also report the bound at this base LR')
    parser.add_argument('--type', default='refined', choices=('refined', 'standard'), help='bound type')
    parser.add_argument('--paper', action='store_true', help="use the paper's schedule classes (steps = T + 1)")
    parser.add_argument('-o', '--output', default='bound.png', help='PNG path (default: bound.png)')


def _split(tokens):
    """``['wsd', 'a=1', 'cosine']`` -> ``[('wsd', ('a=1',)), ('cosine', ())]`` (the one grammar: NAME key=value)."""
    from composer_sched.recipes.overrides import group_items

    groups = group_items(tokens)
    if groups and groups[0][0] is None:
        raise ValueError(f'parameter {groups[0][1][0]!r} is not allowed before a schedule name: write NAME key=value.')
    return groups


def _horizons(text):
    try:
        values = [int(float(v)) for v in text.split(',') if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1 or any(float(v) != int(float(v)) for v in text.split(',') if v.strip()):
        raise ValueError(f'--horizons={text!r} is not allowed: give comma-separated integers >= 1.')
    return values


def _paper_schedule(name, T, params):
    from composer_sched import theory

    classes = {'wsd': theory.WSDSchedule, 'cosine': theory.CosineSchedule, 'constant': theory.ConstantSchedule,
               'sqrt': theory.SqrtSchedule, 'polynomial': theory.PolynomialCooldownSchedule}
    if name not in classes and name != 'linear':
        raise ValueError(f'schedule={name!r} is not allowed with --paper: schedule must be one of '
                         f'{", ".join(PAPER_NAMES)}.')
    if name == 'linear':
        return theory.WSDSchedule(steps=T + 1, cooldown_len=1.0, **params).unscaled_schedule[:T]
    try:
        return classes[name](steps=T + 1, **params).unscaled_schedule[:T]
    except TypeError as e:  # an unknown keyword
        raise ValueError(f'{name}: {e}') from None


def _label(name, params):
    return name + (f' ({", ".join(params)})' if params else '')


def run(args) -> int:
    from composer_sched.recipes.overrides import parse_overrides
    from composer_sched.theory.bounds import bound_curve, compute_optimal_base, compute_rate

    groups = _split(args.schedules)
    if not groups and not args.recipe:
        raise ValueError('no schedule given: name at least one schedule (composer-sched list) or pass --recipe.')
    horizons = _horizons(args.horizons) if args.horizons else None
    for name, value in (('-G', args.G), ('-D', args.D)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f'{name}={value!r} is not allowed: {name} must be a finite number >= 0.')
    if args.base_lr is not None and not (math.isfinite(args.base_lr) and args.base_lr >= 0):
        raise ValueError(f'--base-lr={args.base_lr!r} is not allowed: --base-lr must be a finite number >= 0.')
    from composer_sched.paths import png_path

    args.output = png_path(args.output, '-o')  # checked before the bounds are computed

    # (label, T, multipliers, known base LR or None)
    runs = []
    for name, items in groups:
        params = parse_overrides(items)
        for T in horizons or [1000]:
            if args.paper:
                mult = _paper_schedule(name, T, params)
            else:
                from composer_sched.theory.runs import method_lrs
                mult = method_lrs(name, T, **params)
            runs.append((_label(name, items), T, mult, args.base_lr))
    if args.recipe:
        from composer_sched.recipes import load_recipe
        from composer_sched.theory.runs import recipe_lrs

        rec = load_recipe(args.recipe, list(args.overrides))
        for name in rec.loss_driven:  # AutoWU: the bound of one possible run, not of the run
            print(f'note: recipe {args.recipe}: algorithms.{name} sets the LR from the training loss, so its '
                  'schedule is not known before training; bounded here: the run whose loss never triggers an early '
                  'switch (the warm-up to its cap, then the decay), at its own LRs (composer-sched train '
                  f'{args.recipe} --dry-run shows the other possible decays).')
        for T in horizons or [None]:
            extra = [] if T is None else [f'max_duration={T}ba']
            mult, lr = recipe_lrs(args.recipe, list(args.overrides) + extra)
            runs.append((f'recipe {args.recipe}', len(mult), mult, args.base_lr if args.base_lr is not None else lr))

    header = f'{"schedule":<36} {"T":>8} {"optimal base LR":>16} {"bound":>12} {"base LR":>10} {"bound@LR":>12}'
    print(f'Theorem 1 ({args.type}), G={args.G:g}, D={args.D:g}')
    print(header)
    print('-' * len(header))
    curves = []
    for label, T, mult, lr in runs:
        best, bound = compute_optimal_base(mult, args.G, args.D, type=args.type)
        at_lr = '' if lr is None else f'{lr:>10.4g} {compute_rate(lr * mult, args.G, args.D, type=args.type):>12.6g}'
        print(f'{label[:36]:<36} {T:>8d} {best:>16.6g} {bound:>12.6g} {at_lr}')
        gamma = lr if lr is not None else best
        curves.append((label, T, gamma * mult, bound_curve(gamma * mult, args.G, args.D, type=args.type), lr))
    _plot(curves, args)
    print(f'wrote {args.output}')  # png_path's: the file really written
    return 0


def _plot(curves, args):
    """The schedules (left) and their bound curves on a log axis (right), one colour per run; drawn by
    :mod:`composer_sched.chart` (no matplotlib: the command answers at once)."""
    import numpy as np

    from composer_sched.chart import COLORS, Panel, Series, line_chart

    left, right = [], []
    for i, (label, T, lrs, curve, lr) in enumerate(curves):
        tag = f'{label}, T={T}' + ('' if lr is not None else ' (optimal base LR)')
        t = np.arange(1, T + 1)
        color = COLORS[i % len(COLORS)]
        left.append(Series(lrs, x=t, color=color))
        right.append(Series(curve, x=t, label=tag, color=color))
    finite = [c[np.isfinite(c) & (c > 0)] for *_, c, _ in curves]
    tops = [np.percentile(f, 99) for f in finite if f.size]
    lows = [f.min() for f in finite if f.size]
    ylim = (min(lows) * 0.8, max(tops) * 1.2) if tops else None
    panels = [Panel(left, xlabel='step t', ylabel='learning rate', title='schedules'),
              Panel(right, xlabel='step t', ylabel='bound Omega_t', log_y=True, ylim=ylim,
                    title=f'Theorem 1 ({args.type}), G={args.G:g}, D={args.D:g}')]
    line_chart(args.output, panels, width=1320, height=480)
