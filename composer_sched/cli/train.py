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
  composer-sched train save_folder=ck                    # keep checkpoints, the final one as ck/latest-rank0.pt
  composer-sched train --extend-to 2 --from ck/latest-rank0.pt   # continue that finished run (any schedule)

Extending: --extend-to R --from CKPT trains the recipe at R x max_duration from CKPT, only the new batches.
- CKPT at or before the cool-down of a WSD-like run (e.g. kept by --keep-stable): the result equals a fresh run at
  ratio R bit for bit.
- CKPT the final checkpoint of a run of any schedule (recipe key save_folder: DIR writes DIR/latest-rank0.pt): a
  continuation re-warms from the LR the run ended at to a new peak, then follows the recipe's decay family; the
  candidates are printed with their convex bound and the loss law's value; the recipe's own peak LR is trained,
  re-warmed over the length with the lowest bound (--peak X --rewarm B override it). docs/continuing.md.
Checked before training, from the checkpoint's content (never its name): the recipe fingerprint it carries (every
key but max_duration: seed, optimizer and its hyperparameters, schedule, data identity) equals the recipe's, with
the differing keys named; a mid-run checkpoint shares the extended run's LR on every batch before it (else: the
path of the run's kept stable checkpoint, when there is one); a final one is the end of this recipe's run; R > 1.
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
    parser.add_argument('--peak', type=float, default=None, metavar='X',
                        help='with --extend-to from a final checkpoint: the re-warm\'s peak LR as a multiple of the '
                             'recipe\'s (default: the recipe\'s own peak; the table printed gives each one\'s '
                             'convex bound)')
    parser.add_argument('--rewarm', type=int, default=None, metavar='B',
                        help='with --extend-to from a final checkpoint: re-warm batches (default: the lowest '
                             'convex bound at the peak)')
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


def _check_same_recipe(target, info, path: str) -> None:
    """Refuse a checkpoint whose recipe fingerprint (everything but the duration: seed, optimizer as built, data
    identity, schedule, ...) differs from the recipe's, naming the differing keys.

    Raises:
        ValueError: the fingerprints differ.
    """
    from composer_sched.recipes.checkpoints import fingerprint_difference

    diff = fingerprint_difference(info.fingerprint or {}, target.recipe.fingerprint())
    if diff:
        raise ValueError(f'--from={path} is not allowed: it was trained with another recipe ({"; ".join(diff)}); '
                         'give the recipe it was trained with (apart from max_duration), or another checkpoint.')


def _kept_hint(info) -> str:
    """Where the run of ``info`` kept its stable phase's end (``--keep-stable``), if that file still exists."""
    import os

    kept = [p for p, _ in sorted(((info.stamp or {}).get('kept') or {}).items(), key=lambda kv: kv[1])
            if isinstance(p, str) and os.path.isfile(p)]
    return f'; this run kept its stable phase\'s end in {kept[-1]}: give --from {kept[-1]}' if kept else ''


def _check_extension(target, ratio: float, path: str):
    """Check, before training, that the checkpoint at ``path`` continues as the run at ``ratio``: ``(batch, info)``
    (``info``: :class:`~composer_sched.recipes.checkpoints.CheckpointInfo`).

    Everything is read from the checkpoint's content (:mod:`composer_sched.recipes.checkpoints`), never from its
    name: the recipe fingerprint it carries must equal the recipe's (apart from ``max_duration``). A checkpoint
    saved after the last batch of its run (a final checkpoint) is continued by a continuation schedule
    (:func:`_check_continuation`); any other must be a prefix of the run at ``ratio``: the LR it applied on every
    batch before it, and the LR it is about to apply, equal that run's (as previewed).

    Raises:
        ValueError: ``ratio <= 1``, the checkpoint is missing, unreadable, not a Composer checkpoint, carries no
            recipe stamp, was trained with another recipe (the differing keys named), or is a mid-run checkpoint
            whose LR history differs from the extended run's (pointing to the run's kept stable checkpoint).
    """
    import math

    from composer_sched.adapters.durations import check_ratio
    from composer_sched.recipes.checkpoints import read_checkpoint
    from composer_sched.sweep.plan import _stable_end, ratio_curves, sharing_blocker

    if not check_ratio('--extend-to', ratio) > 1:
        raise ValueError(f'--extend-to={ratio:g} is not allowed: give a ratio > 1 (the new budget as a multiple of '
                         'the recipe\'s max_duration).')
    info = read_checkpoint(path)
    _check_same_recipe(target, info, path)
    if info.is_final:
        return info.batch, info
    b = info.batch
    blocker = sharing_blocker(target.schedulers(), target.algorithms())
    if blocker:
        raise ValueError(f'--from={path} is not allowed: it was saved mid-run (batch {b} of {info.total}), and '
                         f'continuing a run mid-way needs a run that is a prefix of the longer one: {blocker} Give the '
                         'final checkpoint of the run.' + _kept_hint(info))
    longer = ratio_curves(target, [ratio])[ratio]
    if b >= len(longer):
        raise ValueError(f'--from={path} is not allowed: it was saved after batch {b}, and ratio {ratio:g} trains '
                         f'{len(longer)} batches.')
    peak = target.recipe.lr
    want = [peak * float(v) for v in longer[:b + 1]]
    groups = [g for opt in (info.state.get('optimizers') or {}).values() if isinstance(opt, dict)
              for g in opt.get('param_groups', []) if isinstance(g, dict)]
    now = groups[0].get('lr') if groups else None
    seen = list(info.lrs) + ([float(now)] if isinstance(now, (int, float)) else [])
    differ = [i for i, v in enumerate(seen) if not math.isclose(v, want[i], rel_tol=1e-6, abs_tol=1e-12)]
    if differ:
        i = differ[0]
        end = _stable_end(target, info.total / max(len(ratio_curves(target, [1.0])[1.0]), 1)
                          if info.total else 1.0)
        where = (f'inside the cool-down (the stable phase ends at batch {end}); give a checkpoint at or before batch '
                 f'{end}, or the final checkpoint' if end is not None and b > end else
                 'give the final checkpoint of the run, or a checkpoint at or before the end of its stable phase')
        raise ValueError(f'--from={path} is not allowed: it was saved mid-run after batch {b}, and the run it came '
                         f'from had another LR at batch {i} than ratio {ratio:g} of this recipe ({seen[i]:.6g} vs '
                         f'{want[i]:.6g}): {where}' + _kept_hint(info) + '.')
    return b, None


def _apply_extend_entry(recipe, args) -> None:
    """The recipe's ``extend: {from, ratio, peak, rewarm}`` entry, as the options ``--from``, ``--extend-to``,
    ``--peak`` and ``--rewarm`` (which it must not be combined with). With ``--dry-run``, every check of the
    extension (entry or options) runs and its plan is printed; nothing trains.

    Raises:
        ValueError: both the entry and the options are given, or a check of the extension fails.
    """
    ext = recipe.config.extend
    if ext is not None:
        if args.extend_to is not None or args.from_checkpoint is not None:
            raise ValueError('--extend-to/--from are not allowed with a recipe that has an extend: entry (give one or '
                             'the other).')
        args.extend_to, args.from_checkpoint = float(ext['ratio']), str(ext['from'])
        args.peak = args.peak if ext.get('peak') is None else float(ext['peak'])
        args.rewarm = args.rewarm if ext.get('rewarm') is None else int(ext['rewarm'])
    if args.dry_run and args.extend_to is not None:
        from composer_sched.sweep.target import loaded_target

        target = loaded_target(recipe)
        start, final = _check_extension(target, args.extend_to, args.from_checkpoint)
        if final is not None:
            _plan_final(target, final, args)
        else:
            print(f'extend: continues {args.from_checkpoint} (batch {start}) at ratio {args.extend_to:g}, exactly')
        args.dry_extension = (args.extend_to, start)  # what --keep-stable's dry-run check places its batch on
        args.extend_to = args.from_checkpoint = None  # a dry run trains nothing


def _resume_as_continuation(recipe, args):
    """A recipe that resumes (``load_path``, or ``autoresume`` with a checkpoint in ``save_folder``) is checked by
    the checkpoint's content like ``--from``; one that resumes the FINAL checkpoint of a shorter run of itself
    (``max_duration`` raised) is continued (``(target, continuation, path)``), where Composer alone would keep the
    LR the new horizon gives (a jump, or a schedule stuck at its end). ``None``: train as the recipe says.

    Raises:
        ValueError: the checkpoint does not read back as a run of this recipe (differing keys named).
    """
    import os

    from composer_sched.recipes.checkpoints import read_checkpoint

    c = recipe.config
    path = None
    if c.autoresume and c.save_folder:
        latest = os.path.join(os.path.expanduser(c.save_folder), 'latest-rank0.pt')
        path = latest if os.path.isfile(latest) else None
    elif c.load_path and '://' not in c.load_path and not c.load_weights_only:
        path = os.path.expanduser(c.load_path)
    if path is None or args.extend_to is not None:
        return None
    from composer_sched.sweep.target import loaded_target

    target = loaded_target(recipe)
    info = read_checkpoint(path, what='load_path')
    _check_same_recipe(target, info, path)
    if not info.is_final:
        return None  # a mid-run checkpoint of this run: Composer resumes it as it is
    from composer_sched.sweep.plan import ratio_curves

    new = len(ratio_curves(target, [1.0])[1.0])
    if new <= info.batch:
        return None
    if args.keep_stable is not None:
        raise ValueError('--keep-stable is not allowed when continuing a final checkpoint (the continuation re-warms: '
                         'a longer run does not share its batches).')
    old = loaded_target(recipe.with_overrides([f'max_duration={info.batch}ba']))
    from composer_sched.sweep.continuation import plan_continuation

    plan = plan_continuation(old, info, new / info.batch, path, peak=args.peak, rewarm=args.rewarm)
    from composer.utils import dist

    if dist.get_global_rank() == 0:
        print(f'{path} is the end of a {info.batch}-batch run of this recipe and max_duration is now {new} batches: '
              'continuing it (not the schedule of the new horizon)')
        print(plan.text(recipe.lr))
    return old, plan, path


def _plan_final(target, info, args):
    """Plan the continuation of a finished run from its final checkpoint and print the choice (one table)."""
    from composer_sched.sweep.continuation import plan_continuation

    if args.keep_stable is not None:
        raise ValueError('--keep-stable is not allowed when continuing a final checkpoint (the continuation re-warms: '
                         'a longer run does not share its batches).')
    plan = plan_continuation(target, info, args.extend_to, args.from_checkpoint, peak=args.peak, rewarm=args.rewarm)
    from composer.utils import dist

    if dist.get_global_rank() == 0:
        print(plan.text(target.recipe.lr))
    return plan


def _continuation_trainer(target, plan, args, kwargs):
    from composer_sched.cli import one_line
    from composer_sched.sweep.continuation import continuation_trainer

    try:
        return continuation_trainer(target, plan, args.from_checkpoint, progress_bar=not args.quiet,
                                    progress_every=args.progress_every,
                                    **{k: v for k, v in kwargs.items() if k != 'progress_bar'})
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:
        raise ValueError(f'--from={args.from_checkpoint} does not load into the recipe: {one_line(e)}') from None


def _kept_mark(path: str, batch: int):
    """A callback that marks, in the run's recipe stamp, where ``--keep-stable`` keeps the stable phase's end, so
    that a later checkpoint of the run given to ``--extend-to`` can point to it."""
    from composer.core import Callback, Event

    class KeptMark(Callback):
        def run_event(self, event, state, logger):
            if event == Event.FIT_START:
                for cb in state.callbacks:
                    if type(cb).__qualname__ == 'RecipeStamp':
                        cb.kept[path] = batch

    return KeptMark()


def _record_path(path: str) -> str:
    return f'{path}.json'


def _write_record(target, ratio: float, batch: int, path: str) -> str:
    """Write beside the checkpoint ``path`` the LR multiplier of each batch ``0..batch`` of the run at ``ratio``
    (``PATH.json``), for people and tools that read it; ``--extend-to`` trusts only what the checkpoint itself
    holds (its recipe stamp: :mod:`composer_sched.recipes.checkpoints`)."""
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
    """With ``--dry-run``: the ``--keep-stable`` check runs before training and says which batch it would keep,
    so a dry run answers "will it train" for it too (the extension's own checks ran in :func:`_apply_extend_entry`;
    nothing is trained or written)."""
    if args.keep_stable is None:
        return
    from composer_sched.sweep.target import loaded_target

    ratio, start = getattr(args, 'dry_extension', (1.0, None))
    keep = _keep_stable_batch(loaded_target(recipe), ratio, start, args.keep_stable)
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
    _apply_extend_entry(recipe, args)
    warnings.filterwarnings('ignore')
    logging.getLogger('composer').setLevel(logging.ERROR)
    if args.dry_run:
        _resume_as_continuation(recipe, args)  # a load_path / autoresume checkpoint: read and checked (plan shown)
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
    target = keep = start = continuation = None
    resumed = _resume_as_continuation(recipe, args)
    if resumed is not None:
        target, continuation, resume_from = resumed
        args.from_checkpoint = resume_from
    if args.extend_to is not None or args.keep_stable is not None:
        from composer_sched.sweep.target import loaded_target

        target = loaded_target(recipe)
        ratio = 1.0 if args.extend_to is None else args.extend_to
        start, final = (None, None) if args.extend_to is None else _check_extension(target, ratio,
                                                                                     args.from_checkpoint)
        if final is not None:
            continuation = _plan_final(target, final, args)
        keep = None if args.keep_stable is None else _keep_stable_batch(target, ratio, start, args.keep_stable)
    if (args.peak is not None or args.rewarm is not None) and continuation is None:
        raise ValueError('--peak and --rewarm are allowed only with --extend-to from a final checkpoint (a run\'s '
                         'end, whose continuation re-warms).')
    if keep is not None:
        from composer_sched.sweep.execute import branch_saver

        kwargs['callbacks'] = [branch_saver(((keep, os.path.abspath(args.keep_stable)),)), _kept_mark(
            os.path.abspath(args.keep_stable), keep)]
    if continuation is not None:
        trainer = _continuation_trainer(target, continuation, args, kwargs)
    elif args.extend_to is not None:
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
        if continuation is not None:
            new = trainer.state.timestamp.batch.value - continuation.old_batches
            print(f'continued the finished run {args.from_checkpoint} (batch {continuation.old_batches}) to ratio '
                  f'{continuation.ratio:g}: trained {new} new batches')
        elif start is not None:
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
