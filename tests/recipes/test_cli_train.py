"""The CLI on recipes: train, --dry-run (+ --plot), plot RECIPE, list, and exit code 2 without a traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

from composer_sched.cli import build_parser, main
from composer_sched.recipes import load_recipe

FAST = ['max_duration=2ep', 'train_subset_num_batches=3', 'eval.subset_num_batches=1',
        'schedulers[0].t_warmup=2ba']


def test_train_default_recipe(capsys):
    assert main(['train', *FAST, '--quiet']) == 0
    out = capsys.readouterr().out
    assert 'digits_cnn.yaml: 6 batches, 2 epochs' in out
    acc = float(out.split('final eval MulticlassAccuracy: ')[1].split()[0])
    assert 0.0 <= acc <= 1.0


def test_dry_run_prints_recipe_and_schedule(tmp_path, capsys):
    png = tmp_path / 'sched.png'
    assert main(['train', 'schedules/sgdr', 'max_duration=4ep', '--dry-run', '--plot', str(png)]) == 0
    out = capsys.readouterr().out
    assert '- name: sgdr' in out and 'max_duration: 4ep' in out  # the resolved recipe
    recipe = load_recipe('schedules/sgdr', ['max_duration=4ep'])
    lines = [ln.split() for ln in out.split('multiplier')[1].splitlines()[1:] if ln.strip() and ln.split()[0].isdigit()]
    values = recipe.preview()
    assert int(lines[-1][0]) == len(values) - 1
    for batch, _, mult, lr in lines:  # every printed key point is the run's multiplier at that batch
        assert float(mult) == pytest.approx(values[int(batch)], abs=1e-5)
        assert float(lr) == pytest.approx(values[int(batch)] * recipe.lr, rel=1e-3, abs=1e-9)
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'wrote ' in out


def test_plot_recipe_and_method(tmp_path, capsys):
    out_png = tmp_path / 'r.png'
    assert main(['plot', 'algorithms/wsd', '--ratios', '0.5,1', '-o', str(out_png),
                 'algorithms.wsd.t_cooldown=0.4dur']) == 0
    assert out_png.stat().st_size > 1000
    m_png = tmp_path / 'm.png'
    assert main(['plot', 'wsd', '--max-duration', '100ba', '-o', str(m_png), 't_cooldown=0.3dur']) == 0
    out = capsys.readouterr().out
    assert m_png.stat().st_size > 1000 and "ComposerScheduler('wsd', t_cooldown='0.3dur')" in out


def test_list_shows_methods_and_algorithms(capsys):
    from composer_sched.algorithms import algorithm_classes
    from composer_sched.schedules.registry import methods

    assert main(['list']) == 0
    out = capsys.readouterr().out
    for m in methods():
        assert f'{m.name}: {m.summary}' in out
    for name, cls in algorithm_classes().items():
        assert f'{name} ({cls.__name__}): ' in out
    assert "t_cooldown             default '0.2dur'" in out
    assert 'digits_cnn' in out and 'label_smoothing' in out


@pytest.mark.parametrize('argv, needle', [
    (['train', 'max_duration=2epp'], 'max_duration'),
    (['train', 'algorithms/wsd', 'algorithms.wsd.t_cooldwn=0.3dur'], "algorithms.wsd.t_cooldwn: algorithm 'wsd' has"),
    (['train', 'no_such_recipe'], 'no such recipe file'),
    (['train', '--plot', 'x.png'], '--plot is not allowed without --dry-run'),
    (['plot', 'digits_cnn', 'seed=x'], 'seed'),
    (['list', 'wsdd'], "did you mean 'wsd'"),
])
def test_bad_input_exits_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'composer-sched {argv[0]}: error: ') and needle in err
    assert 'Traceback' not in err


def test_bad_recipe_file_in_a_real_process(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('base: digits_cnn\noptimizer: {name: sgd, lr: 0.1, momentun: 0.9}\n')
    proc = subprocess.run([sys.executable, '-m', 'composer_sched.cli', 'train', str(bad), '--dry-run'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert f"{bad}: optimizer.momentun: optimizer 'sgd' has no argument 'momentun' (did you mean 'momentum'?)" \
        in proc.stderr
    assert 'Traceback' not in proc.stderr and proc.stdout == ''


def test_every_command_has_help_with_examples():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == 'command')
    for name in ('train', 'plot', 'list'):
        text = sub.choices[name].format_help()
        assert 'examples:' in text and f'composer-sched {name}' in text
