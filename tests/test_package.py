"""Package-level guarantees: the pure core imports no torch/Composer, every public name resolves."""
import subprocess
import sys
import types

import pytest

import composer_sched


@pytest.mark.parametrize('use', [
    'import composer_sched.schedules as s; s.StableDecaySchedule(10, 2)(3.0)',  # the pure core
    'import composer_sched.predict',  # the loss laws: numpy/scipy only
])
def test_pure_layers_import_neither_torch_nor_composer(use):
    code = (f'import sys, composer_sched; {use}; '
            'print(sorted(m for m in ("torch", "composer") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == '[]'


def test_every_public_name_resolves_to_an_object_not_a_module():
    import composer_sched.previewing  # noqa: F401  (a submodule import must not shadow a public name)
    for name in composer_sched.__all__:
        value = getattr(composer_sched, name)
        assert not isinstance(value, types.ModuleType), name
    assert callable(composer_sched.preview) and callable(composer_sched.plot_schedule)


def test_every_registered_method_has_a_top_level_scheduler_class():
    from composer_sched.schedules import method_names
    from composer_sched.schedules.registry import class_name
    for m in method_names():
        assert getattr(composer_sched, class_name(m, 'Scheduler')).method_name == m


def test_every_core_schedule_class_and_the_product_scheduler_are_top_level():
    # Derived from the core's own exports, so a new method module (cyclic_lr) needs no edit in composer_sched.
    import composer_sched
    import composer_sched.schedules as core

    shapes = [n for n in core.__all__
              if isinstance(getattr(core, n), type) and issubclass(getattr(core, n), core.Schedule)]
    assert 'CyclicLRSchedule' in shapes
    for name in shapes:
        assert getattr(composer_sched, name) is getattr(core, name)
    from composer_sched.adapters.product import ProductScheduler
    assert composer_sched.ProductScheduler is ProductScheduler


def test_docs_methods_page_lists_every_registered_schedule_method():
    from composer_sched.docs import methods_page
    from composer_sched.schedules import method_names
    from composer_sched.schedules.registry import class_name
    table = methods_page().split('# Schedule methods', 1)[1]
    for m in method_names():
        assert f'| `{m}` | `{class_name(m, "Scheduler")}` |' in table
    assert "`t_cooldown`='0.2dur'" in table and '`step_size`<br>' in table  # defaults, and required without one


def test_package_config_lists_the_recipes_and_ships_every_one():
    # setuptools warned on every install that composer_sched.yamls is importable yet not in `packages` (issue 13);
    # the wheel must still carry every bundled recipe (load_recipe() after pip install).
    import fnmatch
    import os
    from pathlib import Path

    from setuptools.config.setupcfg import read_configuration

    root = Path(__file__).resolve().parent.parent
    cwd = os.getcwd()
    os.chdir(root)  # find_namespace: searches from the project root
    try:
        options = read_configuration(str(root / 'setup.cfg'))['options']
    finally:
        os.chdir(cwd)
    packages, data = set(options['packages']), options['package_data']
    folders = {str(p.relative_to(root)).replace(os.sep, '.') for p in (root / 'composer_sched').rglob('*')
               if p.is_dir() and p.name != '__pycache__' and any(f.is_file() for f in p.iterdir())}
    assert folders <= packages, folders - packages  # every folder with files is listed: no "would be ignored"
    from composer_sched.recipes import bundled_recipes, recipe_dir

    for name in bundled_recipes() + ['README']:
        rel = f'{name}.yaml' if name != 'README' else 'README.md'
        assert (recipe_dir() / rel).is_file()
        assert any(fnmatch.fnmatch(rel, pat) for pat in data['composer_sched.recipes.yamls']), rel
