"""Property-based tests over the keep-stable / extension inputs (paths, ratios, overrides): whatever a careless or
hostile user types, the answer is a result or one line naming the argument, never a traceback, and an accepted
output path is one that can be written.

Examples are drawn from hostile fragments (files where folders go, FIFOs, devices, NUL bytes, over-long names,
non-checkpoint files for ``--from``, non-numbers for ratios, malformed overrides) rather than random text, so the
small CI budget meets the cases that matter. Hypothesis keeps its example database in ``.hypothesis/``
(git-ignored) and runs derandomized under CI (``tests/conftest.py``).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import math
import os
import tempfile

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from composer_sched.cli import main
from composer_sched.cli.train import _check_outputs

PARTS = ['afile', 'adir', 'pipe', 'new', 'st.pt', 'st.pt.json', '..', '.', '', 'ünï cödé', ' sp ace ', 'x' * 300,
         'a\x00b', 'nested/deeper']
ROOTS = ['{world}', '{world}/afile', '{world}/adir', '/dev/null', '/proc', '/etc/passwd', '~/.composer-sched-fuzz']
SUFFIXES = ['', '.pt', '.png', '.PNG', '.svg', '.txt', '.json', '/']


def _world(root: str) -> str:
    """A folder with a file, a folder, a FIFO, an existing checkpoint name and a folder where a record goes."""
    open(os.path.join(root, 'afile'), 'w').close()
    os.mkdir(os.path.join(root, 'adir'))
    os.mkfifo(os.path.join(root, 'pipe'))
    open(os.path.join(root, 'st.pt'), 'w').close()
    os.mkdir(os.path.join(root, 'st.pt.json'))
    return root


paths = st.builds(lambda root, parts, suffix: os.path.join(root, *parts) + suffix, st.sampled_from(ROOTS),
                  st.lists(st.sampled_from(PARTS), max_size=3), st.sampled_from(SUFFIXES))


def _listing(root):
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, ds, fs in os.walk(root) for n in ds + fs)


@settings(max_examples=150)
@given(keep=st.none() | paths, weights=st.none() | paths, plot=st.none() | paths)
def test_output_paths_are_refused_in_one_line_or_writable(keep, weights, plot):
    with tempfile.TemporaryDirectory() as root:
        world = _world(root)
        fill = functools.partial(str.format, world=world)
        args = argparse.Namespace(keep_stable=None if keep is None else fill(keep),
                                  save_weights=None if weights is None else fill(weights),
                                  plot=None if plot is None else fill(plot))
        before = _listing(world)
        try:
            _check_outputs(args)
        except ValueError as e:
            text = str(e)
            assert '\n' not in text and 'is not allowed' in text
            assert any(o in text for o in ('--keep-stable', '--save-weights', '--plot')), text
            leftovers = [p for p in _listing(world) if 'composer-sched-probe' in p]
            assert not leftovers
            return
        for p in (args.keep_stable, args.save_weights, args.plot):
            if p is None:
                continue
            assert os.path.isdir(os.path.dirname(p) or '.') and not os.path.isdir(p)
            with open(p, 'ab'):  # accepted means writable: the file can really be opened for writing
                pass
        if args.keep_stable is not None:
            assert os.path.getsize(args.keep_stable) == 0  # it did not exist before (never overwritten)
        if args.plot:
            assert os.path.splitext(args.plot)[1].lower() == '.png'  # the LR curve is PNG only
        assert not [p for p in _listing(world) if 'composer-sched-probe' in p]
        assert set(before) <= set(_listing(world))


# ------------------------------------------------------------------------------ --extend-to / --from on the CLI

def _not_checkpoints(root: str) -> dict:
    """Files a user may hand to ``--from`` that are not a continuable checkpoint of the recipe."""
    out = {'missing': os.path.join(root, 'missing.pt'), 'folder': root, 'fifo': os.path.join(root, 'pipe'),
           'device': '/dev/zero'}
    for name, data in (('empty', b''), ('text', b'not a checkpoint\n'), ('zip_head', b'PK\x03\x04' + b'\x00' * 20)):
        out[name] = os.path.join(root, f'{name}.pt')
        with open(out[name], 'wb') as f:
            f.write(data)
    for name, obj in (('no_state', {'model': 1}), ('list', [1, 2]), ('bad_stamp', {'state': {'timestamp': 'x'}}),
                      ('stamp_only', {'state': {'timestamp': {'batch': 10**9}, 'rank_zero_seed': 0}}),
                      ('other_seed', {'state': {'timestamp': {'batch': 3}, 'rank_zero_seed': 7}})):
        out[name] = os.path.join(root, f'{name}.pt')
        torch.save(obj, out[name])
    out['truncated'] = os.path.join(root, 'truncated.pt')
    with open(out['stamp_only'], 'rb') as f, open(out['truncated'], 'wb') as g:
        g.write(f.read()[:40])
    return out


RATIOS = ['2', '1.5', '1', '0.5', '0', '-1', 'nan', 'inf', '1e400', '1e-320', 'abc', '', '2,3']
OVERRIDES = ['max_duration=4ba', 'max_duration=0ba', 'seed=7', 'seed=-1', 'optimizer.lr=nan',
             'schedulers[0].t_cooldown=2dur', "schedulers=[{name: cosine_annealing}]", 'no_equals', '~nothing',
             'data.batch_size=100000', 'model.width=0', 'algorithms.autowu.outlier_clip=null', '=1', 'a..b=1']


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=12)
@given(source=st.sampled_from(['missing', 'folder', 'fifo', 'device', 'empty', 'text', 'zip_head', 'no_state',
                               'list', 'bad_stamp', 'stamp_only', 'other_seed', 'truncated']),
       ratio=st.sampled_from(RATIOS), overrides=st.lists(st.sampled_from(OVERRIDES), max_size=2),
       keep=st.booleans())
def test_extension_inputs_are_refused_in_one_line(source, ratio, overrides, keep):
    with tempfile.TemporaryDirectory() as root:
        _world(root)
        files = _not_checkpoints(root)
        argv = ['train', '--extend-to', ratio, '--from', files[source], '--quiet', *overrides]
        if keep:
            argv += ['--keep-stable', os.path.join(root, 'adir', 'kept.pt')]
        code, out, err = _run(argv)
    # None of these is a checkpoint to continue: every one is refused before training, exit 2, one line.
    assert code == 2, (argv, out, err)
    assert 'Traceback' not in err and len(err.strip().splitlines()) == 1, err
    assert 'trained' not in out


# ------------------------------------------------------------------------------ sweep ratios and their plans

@functools.lru_cache(maxsize=1)
def _loaded():
    from composer_sched.sweep import SweepTarget

    return SweepTarget(None, ('max_duration=12ba',)).load()


ratio_items = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(['1_0', 'infinity', ' 1',
                        '1e-9', '1e6', '0x1', '.5', '5.', '', '--1'])).map(str)


@settings(max_examples=60)
@given(items=st.lists(ratio_items, min_size=1, max_size=4))
def test_ratio_lists_are_parsed_or_refused_and_planned_or_refused(items):
    from composer_sched.sweep import parse_ratios
    from composer_sched.sweep.plan import plan_sweep

    text = ','.join(items)
    try:
        ratios = parse_ratios(text)
    except ValueError as e:
        assert '--ratios' in str(e) and '\n' not in str(e)
        return
    assert ratios == sorted(set(ratios)) and all(math.isfinite(r) and r > 0 for r in ratios)
    with tempfile.TemporaryDirectory() as root:
        try:
            plan = plan_sweep(_loaded(), ratios, [0], os.path.join(root, 'ck'), drop_unfit=True,
                              stable_dir=os.path.join(root, 'stable'))
        except ValueError as e:
            assert '\n' not in str(e).strip(), str(e)
            return
        assert os.listdir(root) == []  # planning touches no file
    assert all(b >= 1 for b in plan.budgets.values())


@pytest.mark.parametrize('ratio', ['nan', 'inf', '-2', '1', '0.5'])
def test_extend_to_ratios_not_above_one_are_refused_before_reading_the_checkpoint(ratio, tmp_path):
    code, out, err = _run(['train', '--extend-to', ratio, '--from', str(tmp_path / 'missing.pt')])
    assert code == 2 and '--extend-to' in err and 'Traceback' not in err
