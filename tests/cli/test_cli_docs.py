"""Every command the docs show runs (README.md, docs/**/*.md, composer_sched/recipes/yamls/README.md), so the docs
cannot drift from the CLI.

Commands are read from the files themselves: lines of code blocks (fenced or indented) and inline code spans that
start with ``composer-sched``, ``composer -n`` or ``make``. Each runs through the real CLI ``main`` in-process, mapped
to tiny settings (one ratio, one seed, a couple of 2-batch epochs, outputs in a temporary folder, ``--no-plot`` for
sweeps whose options do not change the plots; ``train`` as
``--dry-run``, which builds the Trainer, except ``--keep-stable``/``--extend-to``, which train tiny runs for real;
``lr-find`` over 8 batches). What cannot run here is in :data:`NOT_RUN` with the reason, and each entry
must still be found in the docs (no stale or silent skips).
"""
from __future__ import annotations

import functools
import re
import shlex
import shutil
from pathlib import Path

import pytest

from composer_sched.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / 'README.md', ROOT / 'composer_sched' / 'recipes' / 'yamls' / 'README.md',
        *sorted((ROOT / 'docs').rglob('*.md'))]

#: documented text that is not a runnable command, with why
NOT_RUN = {
    'make test': 'runs the whole suite, this test included',
    'make bench': 'the benchmarks (make bench), not tests',
    'make gen': 'regenerates the generated files (tools.gen); tests/test_generated.py checks they are current',
    'make docs': 'the same command as make gen',
    'make demo': 'is `composer-sched demo` after setting up .venv: that command runs below',
    'make setup': 'creates .venv and installs the package with its extras (every make target does it first)',
    'composer-sched train <file or name>': 'a template (<file or name>)',
    'composer-sched sweep [RECIPE] --ratios 0.25,0.5,0.75,1.0 [--seeds N] [--workers N] [--backend local|ray|slurm]':
        'the synopsis of the sweep command (its options in brackets)',
    'composer-sched bound': 'names the command (it needs schedule names); its full forms run below',
    'composer-sched train schedules/cosine_annealing max_duration=4ep --extend-to 2 --from runs/cos/latest-rank0.pt':
        'continues the final checkpoint the command before it writes when it trains (here it is a dry run): '
        'tests/recipes/test_continue_final.py trains both',
    'composer-sched train schedules/cosine_annealing max_duration=4ep --extend-to 2 --from runs/cos/latest-rank0.pt '
    '--peak 0.5 --rewarm 8': 'the same, with the choice overridden: tests/recipes/test_continue_final.py',
    'composer-sched sweep schedules/cosine_annealing --ratios 1.5,2 --out runs/cos --extend':
        'continues the final checkpoints the sweep before it keeps (here that one is cut to ratio 1, and nothing is '
        'shorter): tests/sweep/test_sweep_continue_finished.py runs both',
}

#: tiny settings for the commands that train (sweep): 2 batches per epoch, 2 epochs, a 1-batch warm-up when the
#: recipe's scheduler has one (the first set the recipe accepts is used)
TINY = ['train_subset_num_batches=2', 'eval.subset_num_batches=1', 'max_duration=2ep']
TINY_CHOICES = [TINY + ['schedulers[0].t_warmup=1ba'], TINY]


def tiny_overrides(recipe, overrides) -> list[str]:
    return list(_tiny_overrides(recipe, tuple(overrides)))


@functools.lru_cache(maxsize=None)
def _tiny_overrides(recipe, overrides: tuple) -> tuple:
    # cached: most documented sweeps are of the default recipe without overrides, and a load validates the recipe
    # (its datasets read, its schedule previewed), which the command's own load does again anyway (my.yaml: the
    # same copy of the default recipe in every test's folder)
    from composer_sched.recipes import RecipeError, load_recipe

    for extra in TINY_CHOICES:
        try:
            load_recipe(recipe, list(overrides) + extra)
            return tuple(extra)
        except RecipeError:
            continue
    raise AssertionError(f'no tiny settings fit {recipe} {overrides}')


def documented_commands() -> list[tuple[str, str]]:
    """``(file, command)`` for every command line in the docs, in order, each once."""
    found = []
    for path in DOCS:
        text = path.read_text()
        fenced = re.findall(r'^```[^\n]*\n(.*?)^```', text, re.S | re.M)
        indented = re.findall(r'(?:^\n)((?:^(?: {4}|\t).*\n)+)', text, re.M)
        lines = [ln for block in fenced + indented for ln in block.splitlines()]
        lines += re.findall(r'`((?:composer-sched|make) [^`]*|composer-sched)`', text)
        for line in lines:
            cmd = line.split(' #')[0].strip()
            if re.match(r'(composer-sched|composer -n \d+ -m composer_sched\.cli|make)( |$)', cmd) \
                    and not re.match(r'composer-sched \w+: error:', cmd):  # printed output, not a command
                found.append((str(path.relative_to(ROOT)), cmd))
    seen, out = set(), []
    for where, cmd in found:  # each command once, where it first appears
        if cmd not in seen:
            seen.add(cmd)
            out.append((where, cmd))
    return out


COMMANDS = documented_commands()


def _ids(items):
    return [re.sub(r'\W+', '-', cmd)[:80] for _, cmd in items]


LIGHT = [c for c in COMMANDS if not re.search(r'--workers [2-9]|--procs-per-run [2-9]|composer-sched demo', c[1])]
#: sweeps whose runs each take several processes: checked against the session's finished 2-process sweep
PER_RUN = [c for c in COMMANDS if re.search(r'--procs-per-run 2( |$)', c[1])]
HEAVY = [c for c in COMMANDS if c not in LIGHT and c not in PER_RUN]


def test_docs_have_commands_and_every_skip_is_still_documented():
    cmds = {c for _, c in COMMANDS}
    assert len(cmds) >= 15
    for skipped in NOT_RUN:
        assert any(c.startswith(skipped) for c in cmds), f'NOT_RUN has {skipped!r}, which the docs no longer show'


def _option(argv: list[str], name: str, value: str) -> list[str]:
    """``argv`` with option ``name`` set to ``value`` (replaced, or appended)."""
    if name in argv:
        i = argv.index(name)
        return argv[:i + 1] + [value] + argv[i + 2:]
    return argv + [name, value]


def _setup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The docs' user recipe: a copy of the default, so a sweep of it and one of the default with the same options
    # are the same configuration and the second finds the first's run finished (launches are the slow part).
    from composer_sched.recipes import recipe_dir

    (tmp_path / 'my.yaml').write_text((recipe_dir() / 'digits_cnn.yaml').read_text())
    (tmp_path / 'my.txt').write_text((ROOT / 'README.md').read_text() * 4)  # the docs' own text corpus
    from tests.recipes.conftest import write_cifar10

    return write_cifar10(tmp_path / 'cifar')[0]


@pytest.fixture(scope='module')
def sweep_out(tmp_path_factory):
    """One results folder for every documented sweep: runs another command already finished are reused."""
    return tmp_path_factory.mktemp('docs-sweeps')


@pytest.mark.parametrize('where, cmd', LIGHT, ids=_ids(LIGHT))
def test_documented_command_runs(where, cmd, tmp_path, monkeypatch, capsys, sweep_out):
    run_documented(where, cmd, tmp_path, monkeypatch, capsys, sweep_out)


@pytest.mark.slow
@pytest.mark.parametrize('where, cmd', HEAVY, ids=_ids(HEAVY))
def test_documented_command_runs_processes(where, cmd, tmp_path, monkeypatch, capsys, sweep_out):
    run_documented(where, cmd, tmp_path, monkeypatch, capsys, sweep_out)


@pytest.mark.slow
@pytest.mark.parametrize('where, cmd', PER_RUN, ids=_ids(PER_RUN))
def test_documented_command_runs_processes_per_run(where, cmd, tmp_path, monkeypatch, capsys, two_process_sweep):
    # A launch is three interpreters importing Composer: the sweep runs on a copy of the session's 2-process sweep
    # (tests/conftest.py, launched through the same run_sweep the CLI calls) with its ratios and settings, so the
    # documented command finds every run finished: its options parsed, the recipe loaded and planned as 2 processes
    # per run (world size 2 is part of the configuration's hash: a command that lost --procs-per-run would train
    # 1-process runs here, and fail the assertion below), the report and files written from those runs.
    _, _, folder = two_process_sweep
    shutil.copytree(folder, tmp_path / 'p2')
    from tests.sweep.tracking_helpers import OVERRIDES

    out = run_documented(where, cmd, tmp_path, monkeypatch, capsys, tmp_path / 'p2',
                         finished=('0.5,1', list(OVERRIDES)))
    assert '2 run(s) already finished' in out and 'to train' not in out, out


def _option_value(cmd: str, name: str):
    argv = shlex.split(cmd)
    return argv[argv.index(name) + 1] if name in argv[:-1] else None


def _keep_stable_first(where, cmd, tmp_path, monkeypatch, capsys, sweep_out):
    """A documented `train --extend-to R --from X` reads the X a documented `train --keep-stable X` writes: when this
    test runs before that one (selected alone, or dealt to another worker), run the writer first, so that no test
    depends on another's order."""
    read = _option_value(cmd, '--from')
    if read is None or (sweep_out / Path(read).name).exists():
        return
    writer = next((c for _, c in COMMANDS if '--extend-to' not in c
                   and Path(_option_value(c, '--keep-stable') or '').name == Path(read).name), None)
    if writer is not None:
        (tmp_path / 'writer').mkdir()
        run_documented(where, writer, tmp_path / 'writer', monkeypatch, capsys, sweep_out)


def run_documented(where, cmd, tmp_path, monkeypatch, capsys, sweep_out, finished=None) -> str:
    """Run the documented ``cmd`` mapped to tiny settings (``finished``: a sweep's ``(ratios, overrides)`` instead,
    those of the finished sweep in ``sweep_out``); asserts it exited 0 (or failed as documented) and returns what
    it printed."""
    reason = next((r for k, r in NOT_RUN.items() if cmd == k or cmd.startswith(k + ' ') and k.startswith('make')
                   or cmd == k), None)
    if reason is not None or cmd in NOT_RUN:
        assert cmd in NOT_RUN or reason  # listed: checked by the test above
        return ''
    _keep_stable_first(where, cmd, tmp_path, monkeypatch, capsys, sweep_out)
    cifar = _setup(tmp_path, monkeypatch)
    argv = shlex.split(cmd.replace('~/data/cifar-10-batches-py', str(cifar)))
    if argv[0] == 'composer':  # `composer -n 2 -m composer_sched.cli train ...`: as rank 0 of 2 sees the recipe
        n = int(argv[argv.index('-n') + 1])
        argv = ['composer-sched'] + argv[argv.index('composer_sched.cli') + 1:]
        overrides = [a for a in argv[2:] if '=' in a]
        from composer_sched.recipes import load_recipe

        with monkeypatch.context() as m:
            m.setenv('WORLD_SIZE', str(n))
            m.setenv('RANK', '0')
            recipe = load_recipe(None, overrides)  # the documented settings, as each of the n ranks loads them
            assert len(recipe.preview()) >= 1
    command, args = argv[1], argv[2:]
    if command == 'train' and {'--keep-stable', '--extend-to'} & set(args):
        # these train for real (tiny), their checkpoints in the module's shared folder, so the documented
        # `--keep-stable X` runs before the `--extend-to R --from X` that reads it
        for opt in ('--keep-stable', '--from', '--save-weights'):
            if opt in args:
                args = _option(args, opt, str(sweep_out / Path(args[args.index(opt) + 1]).name))
        recipe = next((a for a in args[:1] if not a.startswith('-') and '=' not in a), None)
        args += tiny_overrides(recipe, [a for a in args if '=' in a])
    elif command == 'train':  # the dry run builds everything training builds, the Trainer included
        args += ['--dry-run'] if '--dry-run' not in args else []
        if 'cifar10' in ' '.join(args):
            args += ['data.batch_size=16']  # the generated CIFAR files hold 80 training images
        import torch

        if not torch.cuda.is_available():  # GPU recipes (cifar10_*, imagenet_*) checked on this CPU machine
            args += ['device=cpu']
    elif command == 'lr-find':  # a short ramp: the rules need only a few batches to answer (or say they cannot)
        args = _option(args, '--num-batches', '8')
    elif command in ('sweep', 'demo'):
        args = _option(args, '--out', str(sweep_out))
        args = _option(args, '--seeds', '1')
        if command == 'sweep' and not re.search(r'--(metric|predict|log)( |$)', cmd) and '--no-plot' not in args:
            # the PNGs (the folder's overview redrawn for every configuration the shared folder holds) were a third
            # of a sweep's cost here; their drawing is tested in tests/sweep/, and here by the sweeps whose options
            # change what they draw or carry (a metric, predictions, a tracker logging them)
            args += ['--no-plot']
        if command == 'sweep':
            from composer_sched.cli import build_parser
            from composer_sched.recipes.overrides import split_recipe_args

            if finished is not None:
                args = _option(args, '--ratios', finished[0]) + finished[1]
            else:
                args = _option(args, '--ratios', '1')
                recipe, overrides = split_recipe_args(build_parser().parse_args(['sweep', *args]).items)
                args += tiny_overrides(recipe, overrides)
    if '--address auto' in cmd:
        # 'auto' joins any Ray GCS process on the machine (Ray greps the process list): another xdist worker's local
        # Ray, or another user's, which may stop mid-sweep and take this process with it. This machine has none.
        import ray._private.services as ray_services

        monkeypatch.setattr(ray_services, 'find_gcs_addresses', lambda: [])
        monkeypatch.setenv('RAY_TMPDIR', str(tmp_path / 'raytmp'))
    code = main([command, *args])
    out, err = capsys.readouterr()
    if '--backend slurm' in cmd and code == 2 and 'slurm' in err:
        # no Slurm controller answers here (tests/cluster/ runs the Slurm backend on a real one): one line, exit 2
        assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err, err
        return out
    if '--backend ray' in cmd and '--address auto' in cmd and code == 2:
        # `--address auto` joins a running Ray cluster; there is none here: one line, exit code 2
        assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err, err
        return out
    assert code == 0, f'{where}: `{cmd}` ran as {[command, *args]} and exited {code}: {err[-2000:]}'
    return out
