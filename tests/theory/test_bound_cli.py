"""`composer-sched bound` and the bounds of registered methods and recipes, as the Trainer applies them."""
import numpy as np
import pytest

from composer_sched.cli import main
from composer_sched.theory import compute_optimal_base, compute_rate, method_bound, method_lrs, recipe_lrs


def test_paper_mode_reproduces_paper_figures(tmp_path, capsys):
    out = tmp_path / 'b.png'
    assert main(['bound', '--paper', 'wsd', 'cooldown_len=0.2', 'cosine', '--horizons', '100', '-o', str(out)]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith(('wsd', 'cosine'))}
    assert rows['wsd'][-2:] == ['0.0495442', '0.223028']  # the paper package: 0.049544, 0.223028
    assert rows['cosine'][-2:] == ['0.0946945', '0.209114']  # 0.094695, 0.209114
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b'\x89PNG'


def test_registered_methods_match_the_library_and_the_trainer_lag(tmp_path, capsys):
    lrs = method_lrs('wsd', 10, t_cooldown='0.5dur')
    # alpha(t) = 1 - (t - 5)/5 from t = 5; batch k gets alpha(max(k - 1, 0)), so the last batch gets alpha(8)
    np.testing.assert_allclose(lrs, [1, 1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4])
    base, bound = method_bound('wsd', 10, t_cooldown='0.5dur')
    assert (base, bound) == compute_optimal_base(lrs, 1.0, 1.0)
    assert method_bound('wsd', 10, base_lr=0.1, t_cooldown='0.5dur') == (0.1, compute_rate(0.1 * lrs, 1, 1))
    assert main(['bound', 'wsd', 't_cooldown=0.5dur', 'cosine_annealing', '--horizons', '10,40', '--base-lr',
                 '0.1', '-o', str(tmp_path / 'm.png')]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith('wsd') and ' 10 ' in line).split()
    assert float(row[-4]) == pytest.approx(base, rel=1e-5) and float(row[-1]) == pytest.approx(
        compute_rate(0.1 * lrs, 1, 1), rel=1e-5)
    assert sum(line.startswith(('wsd', 'cosine_annealing')) for line in text.splitlines()) == 4


def test_recipe_bound(tmp_path, capsys):
    mult, lr = recipe_lrs('digits_cnn', ['max_duration=30ba'])
    assert len(mult) == 30 and lr > 0 and np.all(mult >= 0)
    assert main(['bound', '--recipe', 'digits_cnn', '--horizons', '30', '-o', str(tmp_path / 'r.png')]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith('recipe')).split()
    assert float(row[-1]) == pytest.approx(compute_rate(lr * mult, 1.0, 1.0), rel=1e-5)
    assert float(row[-3]) == pytest.approx(compute_optimal_base(mult, 1.0, 1.0)[1], rel=1e-5)


@pytest.mark.parametrize('argv, needle', [
    (['bound'], 'no schedule'),
    (['bound', 't_cooldown=0.2dur'], 'before a schedule name'),
    (['bound', 'wsd', '--horizons', '10,x'], '--horizons'),
    (['bound', 'wsd', '--horizons', '0'], '--horizons'),
    (['bound', '--paper', 'triangle'], 'schedule'),
    (['bound', '--paper', 'wsd', 'cooldown=0.2'], 'cooldown'),
    (['bound', 'wsd', '-G', '-1'], '-G'),
    (['bound', 'no_such_method'], 'no_such_method'),
])
def test_bad_input_is_one_line_exit_2(argv, needle, capsys, tmp_path):
    assert main(argv + ['-o', str(tmp_path / 'x.png')]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count('\n') == 1
