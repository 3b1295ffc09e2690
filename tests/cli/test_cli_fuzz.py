"""Fuzz the CLI and the recipe loader: whatever the input, no traceback. A bad input is one line on stderr and exit
code 2 (the CLI), or a one-line ``RecipeError`` naming the file (the loader). Derandomized under CI (conftest)."""
from __future__ import annotations

import contextlib
import io
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer_sched.cli import main
from composer_sched.recipes import RecipeError, load_recipe

# 25 examples keep the suite quick (every valid `train --dry-run` builds a Trainer); explore more by hand with
# COMPOSER_SCHED_FUZZ_EXAMPLES=500.
SETTINGS = settings(max_examples=int(os.environ.get('COMPOSER_SCHED_FUZZ_EXAMPLES', 25)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# ----------------------------------------------------------------------------------------------- values
EXTREME = ['0', '-1', '1e400', '-1e400', 'nan', 'inf', '1e12', '0.5', '2', '1_0', 'true', 'null', '', '[1, 2]',
           '{a: 1}', '[]', '{}', '"x"', '???', '${nope}', '${variables.lr}', '[', '{', ':', "'", '\x00', 'é']
TIMES = ['0ba', '1ba', '-1ba', '1e400ba', '1e12ba', '0.5dur', '2dur', '0dur', '3ep', '0ep', '1.5ep', '10sp', '5tok',
         'ba', '1x', '1e-400ba', 'nanba', 'infdur']
KEYS = ['max_duration', 'seed', 'device', 'scale_schedule_ratio', 'model.width', 'model.name', 'data.batch_size',
        'data.name', 'optimizer.lr', 'optimizer.name', 'optimizer.momentum', 'schedulers', 'schedulers[0]',
        'schedulers[0].name', 'schedulers[0].t_cooldown', 'schedulers[0].t_warmup', 'schedulers[0].alpha_f',
        'schedulers[1].name', 'schedulers[0].step_size', 'algorithms', 'algorithms.wsd', 'algorithms.autowu',
        'algorithms.wsd.t_cooldown', 'algorithms.autowu.min_lr', 'algorithms.scale_schedule.ratio',
        'algorithms.composer.step', 'eval.interval', 'eval.subset_num_batches', 'loggers.console',
        'train_subset_num_batches', 'base', 'name', 'variables.lr', 'nope', 'a.b.c', '', '~algorithms.wsd',
        '[0]', 'schedulers[x]']
NAMES = ['wsd', 'cosine_annealing', 'step', 'composer.step', 'composer.multi_step', 'composer.linear', 'sgdr',
         'cyclical', 'exponential', 'piecewise_constant', 'autowu', 'nope', 'constant']

value = st.one_of(st.sampled_from(EXTREME + TIMES + NAMES), st.integers(-10**6, 10**6).map(str),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=8))


@st.composite
def override(draw):
    key = draw(st.sampled_from(KEYS))
    return key if key.startswith('~') else f'{key}={draw(value)}'


# ----------------------------------------------------------------------------------------------- the CLI
RECIPES = ['digits_cnn', 'schedules/wsd', 'schedules/step', 'algorithms/wsd', 'algorithms/autowu',
           'algorithms/warmup', 'no_such', 'schedules', '/', '.', 'x.yaml']
OPTIONS = {
    'plot': ['--max-duration', '--dataloader-len', '--ratios', '-o'],
    'bound': ['--horizons', '-G', '-D', '--base-lr', '--recipe', '--type', '-o', '--set'],
    'train': ['--plot', '--progress-every'],
    'list': ['--methods', '--algorithms', '--recipes', '--components'],
}


@st.composite
def argv(draw, out_dir):
    command = draw(st.sampled_from(sorted(OPTIONS)))
    args = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(['target', 'option', 'override', 'junk']))
        if kind == 'target':
            args.append(draw(st.sampled_from(RECIPES + NAMES)))
        elif kind == 'option':
            opt = draw(st.sampled_from(OPTIONS[command] + ['--nope', '--quiet']))
            args.append(opt)
            if opt in ('-o', '--plot'):
                args.append(os.path.join(out_dir, draw(st.sampled_from(['a.png', 'sub/b.png', 'x']))))
            elif not opt.startswith('--m') and opt not in ('--algorithms', '--recipes', '--components', '--quiet',
                                                          '--nope'):
                args.append(draw(st.one_of(st.sampled_from(TIMES + EXTREME + RECIPES), value)))
        elif kind == 'override':
            args.append(draw(override()))
        else:
            args.append(draw(value))
    if command == 'train':
        args.append('--dry-run')  # never train in a fuzz test
    return [command, *args]


def run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@SETTINGS
@given(data=st.data())
def test_cli_never_shows_a_traceback(data, tmp_path_factory, monkeypatch):
    work = str(tmp_path_factory.mktemp('fuzz'))
    monkeypatch.chdir(work)
    args = data.draw(argv(work))
    code, _, err = run_cli(args)
    assert 'Traceback' not in err, (args, err)
    assert code in (0, 2), (args, code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('composer-sched') and ': error: ' in lines[0], (args, err)


# ----------------------------------------------------------------------------------------------- the loader
scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=True),
                   st.sampled_from(EXTREME + TIMES + NAMES), st.text(max_size=6))
section = st.one_of(scalar, st.lists(scalar, max_size=3),
                    st.dictionaries(st.sampled_from(['name', 'lr', 'width', 't_cooldown', 't_warmup', 'batch_size',
                                                     'momentum', 'enabled', 'interval', 'x']), scalar, max_size=3))
recipe_doc = st.dictionaries(
    st.sampled_from(['base', 'name', 'seed', 'device', 'max_duration', 'scale_schedule_ratio', 'model', 'data',
                     'optimizer', 'schedulers', 'algorithms', 'eval', 'loggers', 'variables', 'progress_bar',
                     'train_subset_num_batches', 'nope', 1]),
    st.one_of(section, st.lists(section, max_size=2)), max_size=5)


@SETTINGS
@given(doc=recipe_doc, with_base=st.booleans(), overrides=st.lists(override(), max_size=2))
def test_recipe_loader_raises_only_one_line_recipe_errors(doc, with_base, overrides, tmp_path_factory):
    if with_base:
        doc = {'base': 'digits_cnn', **{k: v for k, v in doc.items() if k != 'base'}}
    path = tmp_path_factory.mktemp('recipe') / 'r.yaml'
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        load_recipe(path, overrides)
    except RecipeError as e:
        assert '\n' not in str(e), str(e)
        assert str(e).startswith(str(path)) or str(e).startswith(e.file), str(e)


@SETTINGS
@given(overrides=st.lists(override(), min_size=1, max_size=3),
       recipe=st.sampled_from(['digits_cnn', 'schedules/step', 'algorithms/wsd', 'algorithms/autowu']))
def test_overrides_raise_only_one_line_recipe_errors(overrides, recipe):
    try:
        load_recipe(recipe, overrides)
    except RecipeError as e:
        assert '\n' not in str(e), str(e)
