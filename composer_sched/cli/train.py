"""``composer-sched train``: train a YAML recipe with Composer (or check it and show its schedule with
``--dry-run``)."""
from __future__ import annotations

from typing import Any

COMMAND = 'train'
HELP = ('Train a YAML recipe with a Composer Trainer and print the final metrics (--dry-run: check it, show its '
        'schedule).')
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
  composer-sched train --keep-stable stable.pt           # also keep a checkpoint where the cool-down starts
  composer-sched train --extend-to 2 --from stable.pt    # the same run at twice the budget, from that checkpoint

Extending (WSD-like schedules, whose runs are prefixes of longer runs until the cool-down): --extend-to R --from
CKPT continues a finished run's stable phase from CKPT (a Composer checkpoint saved at or before the start of its
cool-down, e.g. by --keep-stable) and cools down at R x max_duration. Only the batches after CKPT are trained, and
the result equals a fresh run at ratio R bit for bit. Checked before training: CKPT is a Composer checkpoint of
the recipe's seed, before the cool-down, and the LR of every batch up to it equals the extended run's.
"""


def add_arguments(parser):
    from composer_sched.cli._args import accept_trailing_overrides

    accept_trailing_overrides(parser, 'overrides')  # key=value items may also follow the options
    parser.add_argument('recipe', nargs='?', default=None,
                        help='recipe file or bundled name (default: the digits CNN); key=value items are overrides')
    parser.add_argument('overrides', nargs='*', help='key=value overrides, e.g. max_duration=20ep')
    parser.add_argument('--dry-run', action='store_true', help='check the recipe (everything training checks, '
                        'Trainer included, one batch through the model, output paths, --from and --keep-stable), '
                        'print it resolved and the schedule it will run; train nothing')
    parser.add_argument('--plot', nargs='?', const='', default=None, metavar='PNG',
                        help='with --dry-run: also write a PNG of the LR per batch (default: <recipe>.png)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar and no progress lines')
    parser.add_argument('--progress-every', type=int, default=None, metavar='N',
                        help='when the output is not a terminal: a progress line every N batches, N >= 1 '
                             '(default: about 20 lines per run); on a terminal, Composer\'s progress bar')
    parser.add_argument('--keep-stable', default=None, metavar='CKPT',
                        help='save a Composer checkpoint at CKPT after the last batch of the stable phase (the last '
                             'batch a longer run shares; WSD-like schedules only), to extend the run later')
    parser.add_argument('--extend-to', type=float, default=None, metavar='R',
                        help='train the recipe at R x max_duration (R > 1), continuing --from a checkpoint of a '
                             'finished run taken at or before its cool-down: only the new batches train')
    parser.add_argument('--from', dest='from_checkpoint', default=None, metavar='CKPT',
                        help='with --extend-to: the checkpoint to continue (e.g. written by --keep-stable)')
    parser.add_argument('--save-weights', default=None, metavar='PT',
                        help="after training, save the model's final state_dict there (torch.save)")


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


def _read_checkpoint(path: str) -> dict:
    """The training state of the Composer checkpoint at ``path`` (``'rank_zero_seed'``, ...), with ``'batch'``: the
    batches it was saved after.

    Raises:
        ValueError: no such file, or not a Composer checkpoint.
    """
    import os

    import torch

    if not os.path.isfile(path):
        raise ValueError(f'--from={path} is not allowed: there is no such file (give a Composer checkpoint, e.g. one '
                         'written by train --keep-stable or kept by a sweep in DIR/stable/).')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:
        raise ValueError(f'--from={path} is not allowed: it is not a Composer checkpoint ({type(e).__name__} while '
                         'reading it).') from None
    state = ckpt.get('state') if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        state = {}  # no training state: no timestamp either, refused below
    stamp = state.get('timestamp')
    if isinstance(stamp, dict) and isinstance(stamp.get('Timestamp'), dict):  # how Composer 0.32 nests it
        stamp = stamp['Timestamp']
    if not isinstance(stamp, dict) or not isinstance(stamp.get('batch'), int):
        raise ValueError(f'--from={path} is not allowed: it is not a Composer checkpoint (no training state with a '
                         'timestamp in it).')
    return {**state, 'batch': int(stamp['batch'])}


def _check_extension(target, ratio: float, path: str) -> int:
    """Check, before training, that the checkpoint at ``path`` continues as the run at ``ratio``; its batch.

    The finished run is the recipe at ratio 1 (or the ratio a sweep's kept checkpoint names); the checkpoint, saved
    after ``b`` of its batches, continues exactly as the run at ``ratio`` when both runs have the same LR on every
    batch of ``[0, b]`` (previewed, as the sweep plans its trunks: :func:`composer_sched.sweep.plan.shared_until`;
    or as recorded beside the checkpoint by ``--keep-stable``) and the seeds agree.

    Raises:
        ValueError: ``ratio <= 1``, the checkpoint is missing, not a Composer checkpoint, of another seed, inside the
            cool-down, or its LR history differs from the extended run's.
    """
    import math
    import os
    import re

    from composer_sched.adapters.durations import check_ratio
    from composer_sched.sweep.plan import _stable_end, ratio_curves, shared_until, sharing_blocker

    if not check_ratio('--extend-to', ratio) > 1:
        raise ValueError(f'--extend-to={ratio:g} is not allowed: give a ratio > 1 (the new budget as a multiple of '
                         'the recipe\'s max_duration).')
    state = _read_checkpoint(path)
    b = state['batch']
    seed, own = state.get('rank_zero_seed'), target.config.get('seed')
    if seed is not None and own is not None and int(seed) != int(own):
        raise ValueError(f'--from={path} is not allowed: it was trained with seed {seed}, the recipe has seed {own} '
                         f'(add seed={seed}).')
    blocker = sharing_blocker(target.schedulers(), target.algorithms())
    if blocker:
        raise ValueError(f'--extend-to is not allowed for this recipe: {blocker}')
    longer = ratio_curves(target, [ratio])[ratio]
    if b >= len(longer):
        raise ValueError(f'--from={path} is not allowed: it was saved after batch {b}, and ratio {ratio:g} trains '
                         f'{len(longer)} batches.')
    # What the checkpoint itself says about the run it came from: the LR it was about to use (every checkpoint),
    # the LR of each of its batches (the record --keep-stable writes beside it), or the recipe and the ratio (the
    # name of a checkpoint a sweep kept in DIR/stable/).
    old = 1.0
    groups = [g for opt in (state.get('optimizers') or {}).values() if isinstance(opt, dict)
              for g in opt.get('param_groups', []) if isinstance(g, dict)]
    peak = getattr(getattr(target, 'recipe', None), 'lr', None)
    for g in groups[:1]:
        if isinstance(g.get('initial_lr'), float) and isinstance(peak, float) and not math.isclose(
                g['initial_lr'], peak, rel_tol=1e-9):
            raise ValueError(f'--from={path} is not allowed: it was trained with peak LR {g["initial_lr"]:g}, the '
                             f'recipe has {peak:g}.')
        if isinstance(g.get('lr'), float) and isinstance(g.get('initial_lr'), float) and not math.isclose(
                g['lr'], g['initial_lr'] * float(longer[b]), rel_tol=1e-6, abs_tol=1e-12):
            raise ValueError(f'--from={path} is not allowed: its LR for batch {b} is {g["lr"]:.6g}, the extended '
                             f'run\'s is {g["initial_lr"] * float(longer[b]):.6g} (another schedule or peak LR).')
    record = _read_record(path)
    m = re.match(r'^([0-9a-f]{12})-r(.+)-s(\d+)-ba(\d+)\.pt$', os.path.basename(path))
    if record is not None:
        lrs = record.get('multipliers') or []
        differ = [i for i, v in enumerate(lrs[:b + 1]) if v != float(longer[i])]
        if differ:
            raise ValueError(f'--from={path} is not allowed: the run it came from had another LR at batch '
                             f'{differ[0]} than ratio {ratio:g} of this recipe ({lrs[differ[0]]:.6g} vs '
                             f'{float(longer[differ[0]]):.6g} of the peak): another schedule or max_duration.')
        if len(lrs) > b:
            return b  # the LR of every batch up to the checkpoint is the extended run's: it continues exactly
        old = float(record.get('ratio', 1.0))
    elif m:
        if m.group(1) != target.fingerprint:
            raise ValueError(f'--from={path} is not allowed: a sweep kept it for another recipe (fingerprint '
                             f'{m.group(1)}, this recipe\'s is {target.fingerprint}).')
        old = float(m.group(2))
    if not ratio > old:
        raise ValueError(f'--extend-to={ratio:g} is not allowed: the checkpoint comes from a run at ratio {old:g}; '
                         'give a larger ratio.')
    end = _stable_end(target, old)
    if end is None:
        raise ValueError('--extend-to is not allowed for this recipe: its schedule has no stable phase that a longer '
                         'run shares.')
    if b > end:
        raise ValueError(f'--from={path} is not allowed: it was saved after batch {b}, inside the cool-down (the '
                         f'stable phase ends at batch {end}); give a checkpoint at or before batch {end}.')
    shared = shared_until(target, old, ratio)
    if shared is None or shared < b:
        raise ValueError(f'--from={path} is not allowed: the LR of ratio {ratio:g} differs from the finished run\'s '
                         f'before batch {b}' + ('' if shared is None else f' (they agree up to batch {shared})')
                         + '; give an earlier checkpoint or another ratio.')
    return b


def _record_path(path: str) -> str:
    return f'{path}.json'


def _read_record(path: str):
    import json

    try:
        with open(_record_path(path)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _write_record(target, ratio: float, batch: int, path: str) -> str:
    """Write beside the checkpoint ``path`` the LR multiplier of each batch ``0..batch`` of the run at ``ratio``
    (``PATH.json``), so that ``--extend-to`` checks the whole LR history, not only the recipe it is given."""
    import json

    from composer_sched.sweep.plan import ratio_curves

    curve = ratio_curves(target, [ratio])[ratio]
    with open(_record_path(path), 'w') as f:
        json.dump({'ratio': ratio, 'batch': batch, 'fingerprint': target.fingerprint,
                   'multipliers': [float(v) for v in curve[:batch + 1]]}, f)
    return _record_path(path)


def _keep_stable_batch(target, ratio: float, start, path: str) -> int:
    """The batch after which ``--keep-stable`` saves: the last batch of the run's stable phase.

    Raises:
        ValueError: the file ``path`` exists, the schedule has no stable phase a longer run shares, or the run
            starts past it.
    """
    import os

    from composer_sched.sweep.plan import _stable_end, sharing_blocker

    if os.path.exists(path):  # never overwritten: it may be what a later --extend-to continues
        raise ValueError(f'--keep-stable={path} is not allowed: the file exists; delete it or give another path.')
    blocker = sharing_blocker(target.schedulers(), target.algorithms())
    end = None if blocker else _stable_end(target, ratio)
    if end is None:
        raise ValueError('--keep-stable is not allowed for this recipe: '
                         + (blocker or 'its schedule has no stable phase that a longer run shares.'))
    if start is not None and end <= start:
        raise ValueError(f'--keep-stable is not allowed here: the run starts at batch {start}, past its stable '
                         f'phase\'s end (batch {end}).')
    return end


def _check_outputs(args) -> None:
    """Every file the run will write, probed before its first batch (:mod:`composer_sched.paths`): a path that
    cannot be written fails now, not after the training it would have kept. ``args.plot`` and the rest become the
    paths really written."""
    from composer_sched.paths import check_writable_file, png_path

    if args.keep_stable is not None:
        args.keep_stable = check_writable_file(args.keep_stable, '--keep-stable', exist_ok=False)
        check_writable_file(_record_path(args.keep_stable), '--keep-stable (its record)')
    if args.save_weights:
        args.save_weights = check_writable_file(args.save_weights, '--save-weights')
    if args.plot:
        args.plot = png_path(args.plot, '--plot')


def _dry_run_continuation(args, recipe) -> None:
    """With ``--dry-run``: the checks ``--extend-to``/``--from`` and ``--keep-stable`` run before training, and
    what they would do, so a dry run answers "will it train" for them too (nothing is trained or written)."""
    if args.extend_to is None and args.keep_stable is None:
        return
    from composer_sched.sweep.target import loaded_target

    target = loaded_target(recipe)
    ratio = 1.0 if args.extend_to is None else args.extend_to
    start = None if args.extend_to is None else _check_extension(target, ratio, args.from_checkpoint)
    if start is not None:
        print(f'would extend {args.from_checkpoint} (saved after batch {start}) to ratio {ratio:g}')
    if args.keep_stable is not None:
        keep = _keep_stable_batch(target, ratio, start, args.keep_stable)
        print(f'would keep the stable phase\'s end (batch {keep}) in {args.keep_stable}')


def run(args) -> int:
    import logging
    import os
    import warnings

    from composer.utils import dist

    from composer_sched.cli import RunFailed
    from composer_sched.recipes import load_recipe
    from composer_sched.recipes.overrides import split_recipe_args

    path, overrides = split_recipe_args([args.recipe, *args.overrides])
    if (args.extend_to is None) != (args.from_checkpoint is None):
        raise ValueError('--extend-to and --from go together: give both (the new ratio and the checkpoint to '
                         'continue) or neither.')
    if args.plot is not None and not args.dry_run:
        raise ValueError('--plot is not allowed without --dry-run (the plot shows the schedule before training).')
    if args.progress_every is not None and args.progress_every < 1:
        raise ValueError(f'--progress-every={args.progress_every} is not allowed: give an integer >= 1.')
    _check_outputs(args)
    recipe = load_recipe(path, overrides)
    warnings.filterwarnings('ignore')
    logging.getLogger('composer').setLevel(logging.ERROR)
    if args.dry_run:
        recipe.check_trainer()  # everything training checks before its first batch
        print(f'# {recipe.path}' + (f' with {" ".join(recipe.overrides)}' if recipe.overrides else ''))
        print(recipe.to_yaml())
        print_schedule(recipe)
        _dry_run_continuation(args, recipe)
        if args.plot is not None:
            stem = os.path.splitext(os.path.basename(recipe.path))[0]
            from composer_sched.paths import png_path

            print(f'wrote {recipe.plot(args.plot or png_path(f"{stem}.png", "--plot"))}')
        return 0
    kwargs: dict[str, Any] = {'progress_bar': False} if args.quiet else {}
    target = keep = start = None
    if args.extend_to is not None or args.keep_stable is not None:
        from composer_sched.sweep.target import loaded_target

        target = loaded_target(recipe)
        ratio = 1.0 if args.extend_to is None else args.extend_to
        start = None if args.extend_to is None else _check_extension(target, ratio, args.from_checkpoint)
        keep = None if args.keep_stable is None else _keep_stable_batch(target, ratio, start, args.keep_stable)
    if keep is not None:
        from composer_sched.sweep.execute import branch_saver

        kwargs['callbacks'] = [branch_saver(((keep, os.path.abspath(args.keep_stable)),))]
    if args.extend_to is not None:
        # As the sweep trains a ratio (max_duration in batches, the recipe's own ratio folded in), so the result
        # equals the sweep's independent run at that ratio.
        from composer_sched.cli import one_line

        assert target is not None  # loaded above whenever --extend-to is given
        try:
            kwargs['progress_bar'] = not args.quiet
            trainer = target.build_trainer(args.extend_to, load_path=args.from_checkpoint,
                                           progress_every=args.progress_every, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:
            raise ValueError(f'--from={args.from_checkpoint} does not load into the recipe: {one_line(e)}') from None
    else:
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
    if args.save_weights and dist.get_global_rank() == 0:
        import torch
        torch.save(trainer.state.model.state_dict(), args.save_weights)
    if dist.get_global_rank() == 0:
        if start is not None:
            print(f'extended from {args.from_checkpoint} (batch {start}) to ratio {args.extend_to:g}: trained '
                  f'{trainer.state.timestamp.batch.value - start} new batches')
        if keep is not None and os.path.isfile(args.keep_stable):
            _write_record(target, 1.0 if args.extend_to is None else args.extend_to, keep, args.keep_stable)
            print(f'kept the stable phase\'s end (batch {keep}) in {args.keep_stable} (and its LR history in '
                  f'{args.keep_stable}.json)')
        print(f'trained {recipe.path}: {trainer.state.timestamp.batch.value} batches, '
              f'{trainer.state.timestamp.epoch.value} epochs, world size {dist.get_world_size()}')
        for label, metrics in trainer.state.eval_metrics.items():
            for name, metric in metrics.items():
                print(f'final {label} {name}: {float(metric.compute()):.4f}')
        for name, metric in trainer.state.train_metrics.items():
            print(f'final train {name}: {float(metric.compute()):.4f}')
    trainer.close()
    return 0
