"""``composer-sched plot``: a PNG of a schedule's LR multipliers, batch by batch, as the Trainer applies them."""
from __future__ import annotations

COMMAND = 'plot'
HELP = 'Plot the LR multiplier a run gets at every batch (a registered method with key=value parameters).'
EPILOG = """examples:
  composer-sched plot wsd --max-duration 1000ba -o wsd.png
  composer-sched plot sgdr --max-duration 20ep --dataloader-len 50 t_0=0.1dur t_mult=2
  composer-sched plot cosine_annealing --max-duration 1000ba --ratios 0.25,0.5,1 t_warmup=50ba
"""


def add_arguments(parser):
    parser.add_argument('method', help='a registered method (composer-sched list)')
    parser.add_argument('params', nargs='*', help='method parameters as key=value')
    parser.add_argument('--max-duration', default='1000ba', help="training length, e.g. 1000ba or 20ep")
    parser.add_argument('--dataloader-len', type=int, default=None, help='batches per epoch (for ep units)')
    parser.add_argument('--ratios', default='1.0', help='comma-separated scale-schedule ratios to overlay')
    parser.add_argument('-o', '--output', default=None, help='PNG path (default: <method>.png)')


def run(args) -> int:
    from composer_sched.adapters.composer import ComposerScheduler
    from composer_sched.cli._args import parse_overrides
    from composer_sched.preview import plot_schedule, preview

    try:
        ratios = tuple(float(r) for r in args.ratios.split(','))
    except ValueError:
        raise ValueError(f'--ratios={args.ratios!r} is not allowed: give comma-separated numbers.') from None
    sched = ComposerScheduler(args.method, **parse_overrides(args.params))
    out = args.output or f'{args.method}.png'
    plot_schedule(sched, args.max_duration, out, ratios=ratios, dataloader_len=args.dataloader_len,
                  title=repr(sched))
    values = preview(sched, args.max_duration, dataloader_len=args.dataloader_len)
    n = len(values)
    marks = sorted({0, n // 4, n // 2, 3 * n // 4, n - 1})
    print(f'{sched!r} over {args.max_duration}: ' + ', '.join(f'batch {k}: {values[k]:.4g}' for k in marks))
    print(f'wrote {out}')
    return 0
