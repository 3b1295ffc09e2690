"""Loading and checking recipes: the default, overrides, bases, and errors with file, key path and suggestions."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from composer_sched.recipes import Recipe, RecipeError, bundled_recipes, load_recipe


def write(tmp_path, text: str, name: str = 'r.yaml') -> str:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


def test_default_recipe_is_the_digits_cnn():
    r = load_recipe()
    assert isinstance(r, Recipe)
    assert r.path.endswith('digits_cnn.yaml')
    assert r.config.model['name'] == 'digits_cnn' and r.config.data['name'] == 'digits'
    # 1797 digits, 20 % held out, batches of 64 with drop_last: floor(1438 / 64)
    assert r.dataloader_len == 1438 // 64
    assert r.max_duration == '6ep'
    values = r.preview()
    assert values.shape == (6 * r.dataloader_len,)
    assert values.max() == pytest.approx(1.0) and values[-1] < 0.1


def test_overrides_and_typed_config():
    # 'dur' is a fraction of the whole (scaled) run: a 2-batch warm-up leaves room for the 11-batch cool-down
    r = load_recipe(None, ['max_duration=3ep', 'schedulers[0].t_cooldown=0.5dur', 'optimizer.lr=1e-2',
                           'scale_schedule_ratio=0.5', 'schedulers[0].t_warmup=2ba'])
    assert r.max_duration == '3ep'
    assert r.config.optimizer['lr'] == pytest.approx(0.01)  # '1e-2' parsed as a number, not a string
    assert r.config.schedulers[0]['t_cooldown'] == '0.5dur'
    assert isinstance(r.config.scale_schedule_ratio, float)
    # the ratio halves the run
    assert len(r.preview()) == int(3 * 0.5) * r.dataloader_len
    # the config is read-only: changes go through overrides
    with pytest.raises(Exception):
        r.config.seed = 3
    assert r.with_overrides(['seed=3']).config.seed == 3


def test_to_yaml_round_trips(tmp_path):
    r = load_recipe(None, ['max_duration=2ep'])
    again = load_recipe(write(tmp_path, r.to_yaml()))
    assert again.to_dict() == r.to_dict()
    np.testing.assert_array_equal(again.preview(), r.preview())


def test_base_and_variables(tmp_path):
    path = write(tmp_path, """
        base: digits_cnn
        variables: {lr: 0.2}
        optimizer: {lr: '${variables.lr}'}
        schedulers: [{name: cosine_annealing, alpha_f: 0.1}]
    """)
    r = load_recipe(path)
    assert r.config.optimizer['lr'] == pytest.approx(0.2)
    assert r.config.optimizer['momentum'] == pytest.approx(0.9)  # merged from the base
    assert [s['name'] for s in r.config.schedulers] == ['cosine_annealing']
    assert r.preview()[-1] == pytest.approx(0.1, abs=0.01)


def test_composer_builtin_scheduler_by_prefix(tmp_path):
    r = load_recipe(None, ['schedulers=[{name: composer.cosine_annealing_with_warmup, t_warmup: 10ba}]'])
    values = r.preview()
    assert values[0] == 0.0 and values[11] == pytest.approx(1.0, abs=0.01) and values[-1] < 0.01


@pytest.mark.parametrize('override, key, needle', [
    (['max_durration=2ep'], 'max_durration', "did you mean 'max_duration'"),
    (['optimizer.momentun=0.5'], 'optimizer.momentun', "did you mean 'momentum'"),
    (['model.name=digit_cnn'], 'model.name', "did you mean 'digits_cnn'"),
    (['data.name=digts'], 'data.name', "did you mean 'digits'"),
    (['schedulers[0].name=wsdd'], 'schedulers[0].name', "did you mean 'wsd'"),
    (['schedulers[0].t_cooldwn=0.2dur'], 'schedulers[0].t_cooldwn', "did you mean 't_cooldown'"),
    (['schedulers[0].t_cooldown=banana'], 'schedulers[0].t_cooldown', 'Composer time string'),
    (['schedulers[0].t_cooldown=2dur'], 'schedulers[0].t_cooldown', 'cool'),
    (['schedulers[0].alpha_f=-1'], 'schedulers[0].alpha_f', 'alpha_f=-1 is not allowed'),  # ScheduleSpec's check
    (['algorithms.scale_schedule={ratio: -1}'], 'algorithms.scale_schedule.ratio', 'ratio'),  # the constructor's
    (['algorithms.lable_smoothing={smoothing: 0.1}'], 'algorithms.lable_smoothing', "'label_smoothing'"),
    (['algorithms.label_smoothing={smothing: 0.1}'], 'algorithms.label_smoothing.smothing', "'smoothing'"),
    (['seed=abc'], 'seed', 'must be an integer'),
    (['seed=-1'], 'seed', '>= 0'),
    (['device=cpux'], 'device', "did you mean 'cpu'"),
    (['max_duration=0ep'], 'max_duration', 'positive Composer time string'),
    (['max_duration=0.5dur'], 'max_duration', 'in ep, ba, sp, tok'),
    (['scale_schedule_ratio=0'], 'scale_schedule_ratio', '> 0'),
    (['optimizer.lr=-1'], 'optimizer.lr', '> 0'),
    (['optimizer.momentum=-0.5'], 'optimizer.momentum', 'momentum'),
    (['data.batch_size=0'], 'data.batch_size', '>= 1'),
    (['data.batch_size=5000'], 'data.batch_size', 'no batch'),
    (['eval.intervall=1ep'], 'eval.intervall', "did you mean 'interval'"),
    (['loggers.tensorbord={}'], 'loggers.tensorbord', "did you mean 'tensorboard'"),
    (['model.width=wide'], 'model.width', 'must be a number'),
    (['optimizer.lr=${variables.nope}'], 'optimizer.lr', 'variables.nope'),
])
def test_bad_values_name_the_key(override, key, needle):
    with pytest.raises(RecipeError) as info:
        load_recipe(None, override)
    e = info.value
    assert isinstance(e, ValueError)
    assert e.key == key, str(e)
    assert e.file.endswith('digits_cnn.yaml')
    assert needle in str(e), str(e)
    assert str(e).startswith(f'{e.file}: {key}: ')
    assert 'override' in str(e)  # the message says which override set the bad value


def test_errors_in_files(tmp_path):
    bad_yaml = write(tmp_path, 'seed: [1, 2\nmodel: {}\n', 'bad.yaml')
    with pytest.raises(RecipeError, match=r'bad\.yaml: not valid YAML: line \d+'):
        load_recipe(bad_yaml)
    missing = write(tmp_path, 'seed: 1\n', 'missing.yaml')
    with pytest.raises(RecipeError) as info:
        load_recipe(missing)
    assert info.value.key == 'max_duration' and 'missing' in str(info.value)
    nested = write(tmp_path, """
        base: digits_cnn
        eval: {interval: 1ep, subset_num_batchez: 2}
    """, 'nested.yaml')
    with pytest.raises(RecipeError) as info:
        load_recipe(nested)
    assert info.value.key == 'eval.subset_num_batchez' and "'subset_num_batches'" in str(info.value)
    assert info.value.file == nested
    with pytest.raises(RecipeError, match='bundled recipes: .*digits_cnn'):
        load_recipe('no/such/recipe.yaml')
    cyc = write(tmp_path, 'base: cyc.yaml\n', 'cyc.yaml')
    with pytest.raises(RecipeError, match='cycle'):
        load_recipe(cyc)
    (tmp_path / 'sub').mkdir()
    loop = write(tmp_path, 'base: ../sub/loop.yaml\n', 'sub/loop.yaml')  # the same file under a longer name
    with pytest.raises(RecipeError, match='bases form a cycle'):
        load_recipe(loop)


def test_bundled_default_found_through_the_package():
    import importlib.resources
    from pathlib import Path

    import composer_sched

    assert 'digits_cnn' in bundled_recipes()
    # package data, a real folder inside the package (issue 14): what a wheel ships; the repo-root yamls links here
    pkg = importlib.resources.files('composer_sched.recipes') / 'yamls' / 'digits_cnn.yaml'
    assert pkg.is_file() and 'max_duration' in pkg.read_text()
    assert not (Path(composer_sched.__file__).parent / 'recipes' / 'yamls').is_symlink()
    assert not (Path(composer_sched.__file__).parent / 'yamls').exists()
    assert composer_sched.load_recipe is load_recipe


def test_optional_loggers(tmp_path):
    import importlib.util

    for kind, module in (('tensorboard', 'tensorboard'), ('mlflow', 'mlflow')):
        overrides = [f'loggers.{kind}={{}}']
        if importlib.util.find_spec(module) is None:
            with pytest.raises(RecipeError) as info:
                load_recipe(None, overrides)
            assert info.value.key == f'loggers.{kind}' and f'pip install {module}' in str(info.value)
        else:
            assert load_recipe(None, overrides).config.loggers[kind] == {}


def test_construction_is_pure_and_load_reads(tmp_path):
    """Issue 14: ``Recipe(mapping)`` checks the mapping without reading a file or data; ``check()`` (which
    ``Recipe.load`` / ``load_recipe`` run) reads the data, so a missing data folder fails there, at its key."""
    config = {'max_duration': '2ep', 'model': {'name': 'cifar_resnet20'},
              'data': {'name': 'cifar10', 'path': str(tmp_path / 'missing')},
              'optimizer': {'name': 'sgd', 'lr': 0.1}, 'schedulers': [{'name': 'cosine_annealing'}]}
    r = Recipe(config, overrides=['optimizer.lr=0.05'])  # the folder does not exist: nothing was read
    assert r.lr == 0.05 and r.path == '<mapping>' and r.overrides == ('optimizer.lr=0.05',)
    with pytest.raises(RecipeError) as info:
        r.check()
    assert info.value.key == 'data.path'
    with pytest.raises(RecipeError) as info:  # a bad value in the mapping fails at construction, at its key
        Recipe({**config, 'seed': -1})
    assert info.value.key == 'seed' and info.value.file == '<mapping>'
    with pytest.raises(RecipeError, match='set by the override'):
        Recipe(config, overrides=['optimizer.lr=fast'])
    # the same mapping from a file, through Recipe.load: the same config
    loaded = Recipe.load(load_recipe('schedules/wsd').path)
    assert loaded.to_dict() == load_recipe('schedules/wsd').to_dict()
    assert Recipe(loaded.to_dict()).check().to_dict() == loaded.to_dict()


def test_bundled_bases_resolve_inside_the_package(tmp_path, monkeypatch):
    """A bundled recipe's ``base: ../digits_cnn.yaml`` is found through importlib.resources, wherever the process
    runs (not relative to the working directory)."""
    monkeypatch.chdir(tmp_path)
    r = load_recipe('algorithms/wsd')
    assert r.config.model.name == 'digits_cnn' and list(r.config.algorithms) == ['wsd']
    assert r.with_overrides(['max_duration=2ep']).max_duration == '2ep'


def test_a_recipe_without_schedulers_or_algorithms_is_a_constant_lr():
    # The recipe README allows no schedule at all (Composer then keeps the optimizer's LR): it loads and previews as 1.
    recipe = load_recipe('digits_cnn', ['schedulers=[]', 'max_duration=5ba'])
    assert recipe.preview().tolist() == [1.0] * 5
    with_wsd = load_recipe('digits_cnn', ['max_duration=5ba'])
    assert with_wsd.preview().tolist() != [1.0] * 5  # the same recipe with its schedule does move


def test_a_retired_argument_of_an_algorithm_in_a_recipe_names_its_replacement():
    # The hint lives in the one suggest(): an algorithm's arguments in a recipe get it as a scheduler's do.
    with pytest.raises(RecipeError, match=r"has no argument 't_cycle' \(did you mean 't_0'\? 't_cycle' was renamed\)"):
        load_recipe('algorithms/cyclical', ['algorithms.cyclical.t_cycle=10ba'])
