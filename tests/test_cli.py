"""The command line: list, plot, demo, and one-line errors with exit code 2."""
import subprocess
import sys

from composer_sched.cli import main
from composer_sched.schedules import method_names


def test_list_shows_every_method(capsys):
    assert main(['list']) == 0
    out = capsys.readouterr().out
    for name in method_names():
        assert f'\n{name}: ' in '\n' + out
    assert 't_cooldown' in out and "'0.2dur'" in out


def test_plot_writes_a_png(tmp_path, capsys):
    out = tmp_path / 'wsd.png'
    assert main(['plot', 'wsd', 't_cooldown=0.3dur', '--max-duration', '200ba', '-o', str(out),
                 '--ratios', '0.5,1']) == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    text = capsys.readouterr().out
    assert 'batch 199: 0.03333' in text  # batch 199 trains with the value at t=198: 1 - (198 - 140) / 60


def test_bad_input_is_one_line_and_exit_2():
    proc = subprocess.run([sys.executable, '-m', 'composer_sched.cli', 'plot', 'wsd', 't_colldown=3ba'],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "did you mean 't_cooldown'" in proc.stderr and 'Traceback' not in proc.stderr
    proc = subprocess.run([sys.executable, '-m', 'composer_sched.cli', 'plot', 'wds'], capture_output=True, text=True)
    assert proc.returncode == 2 and "did you mean 'wsd'" in proc.stderr


def test_help_has_examples():
    proc = subprocess.run([sys.executable, '-m', 'composer_sched.cli', 'plot', '--help'], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and 'examples:' in proc.stdout
