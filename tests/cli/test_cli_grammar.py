"""Issue 14: one ``[RECIPE] key=value ...`` grammar (composer_sched/recipes/overrides.py) for every sub-command:
the same words mean the same thing to train, lr-find, plot and sweep, and a misplaced one is the same one-line
error (exit code 2) everywhere."""
from __future__ import annotations

import pytest

from composer_sched.cli import main
from composer_sched.recipes import bundled_recipes, recipe_dir
from composer_sched.recipes.overrides import group_items, parse_overrides, split_recipe_args


@pytest.mark.parametrize('command', [['train', '--dry-run'], ['lr-find'], ['plot'], ['sweep']])
def test_a_second_recipe_is_the_same_error_everywhere(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing is written, but a sweep would write here
    assert main([*command, 'digits_cnn', 'max_duration=2ep', 'schedules/wsd']) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f'composer-sched {command[0]}: error: '), err
    assert "'schedules/wsd' is not allowed here: give one RECIPE first, then key=value overrides." in err[0]


def test_values_are_read_one_way_for_methods_and_recipes(tmp_path, capsys):
    # 1e-3 is a number for a method's parameters just as in a recipe file or a recipe override
    assert parse_overrides(['alpha_f=1e-3'])['alpha_f'] == 0.001
    assert main(['plot', 'wsd', 'alpha_f=1e-3', '--max-duration', '100ba', '-o', str(tmp_path / 'w.png')]) == 0
    assert 'alpha_f=0.001' in capsys.readouterr().out


def test_a_file_whose_name_has_an_equals_sign_is_a_recipe(tmp_path, capsys):
    path = tmp_path / 'lr=0.1.yaml'
    path.write_text((recipe_dir() / 'digits_cnn.yaml').read_text())
    assert split_recipe_args([str(path), 'seed=1']) == (str(path), ('seed=1',))
    assert main(['plot', str(path), 'max_duration=2ep', '-o', str(tmp_path / 'r.png')]) == 0
    assert (tmp_path / 'r.png').is_file()


def test_groups_and_the_recipe_form_agree():
    assert group_items(['wsd', 'a=1', 'cosine', '~b']) == [('wsd', ('a=1',)), ('cosine', ('~b',))]
    assert split_recipe_args(['max_duration=2ep', '~algorithms.wsd']) == (None, ('max_duration=2ep',
                                                                                  '~algorithms.wsd'))
    assert split_recipe_args([]) == (None, ())
    assert 'schedules/wsd' in bundled_recipes()
