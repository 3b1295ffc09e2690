"""`composer-sched --help`, every `<command> --help`, `list`, `plot <method>` and `bound` answer without importing
torch or Composer, nor matplotlib (their PNGs are drawn by composer_sched/chart.py) (issue 24): run in a fresh
interpreter, `sys.modules` is read after each command. `make bench`
times them (benchmarks/bench_cli_start.py); here only what they import is checked, never how long they take."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from composer_sched.cli import _catalog, build_parser, main

HEAVY = ('torch', 'composer', 'ray', 'mlflow', 'submitit', 'wandb', 'transformers', 'timm', 'sklearn', 'matplotlib')

_PROBE = """
import json, sys
from composer_sched.cli import main
heavy, report = %r, []
for argv in json.loads(sys.argv[1]):
    code = main(argv)
    report.append([argv, code, sorted(m for m in heavy if m in sys.modules)])
print(json.dumps(report))
"""


def _subcommands(parser=None, prefix=()) -> list[tuple[str, ...]]:
    """Every registered sub-command, whoever added it, nested ones too (``predict backtest``): the parsers' own
    lists."""
    parser = parser or build_parser()
    found = []
    for action in parser._actions:
        if action.__class__.__name__ == '_SubParsersAction':
            for name, sub in sorted(action.choices.items()):
                found += [prefix + (name,)] + _subcommands(sub, prefix + (name,))
    return found


def _run_in_fresh_interpreter(commands: list[list[str]], cwd) -> list:
    proc = subprocess.run([sys.executable, '-c', _PROBE % (HEAVY,), json.dumps(commands)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_list_plot_and_bound_import_neither_torch_nor_composer_nor_matplotlib(tmp_path):
    assert {('list',), ('plot',), ('bound',), ('train',), ('sweep',)} <= set(_subcommands())
    commands = [['--help']] + [[*c, '--help'] for c in _subcommands()] + [
        ['list'], ['list', 'wsd', 'autowu'], ['list', '--components'], ['list', '--recipes'],
        ['plot', 'wsd', '-o', 'wsd.png'],
        ['plot', 'sgdr', '--max-duration', '20ep', '--dataloader-len', '50', 't_0=0.1dur', '--ratios', '0.5,1',
         '-o', 'sgdr.png'],
        ['bound', 'wsd', 't_cooldown=0.2dur', 'cosine_annealing', '--horizons', '100,1000', '-o', 'bound.png'],
        ['bound', '--paper', 'wsd', 'cooldown_len=0.2', 'cosine', '--horizons', '100', '-o', 'paper.png'],
    ]
    # last, a command that needs Composer (a recipe's plot): the probe must see it load torch and Composer
    heavy = ['plot', 'digits_cnn', 'max_duration=2ba', '-o', 'recipe.png']
    report = _run_in_fresh_interpreter(commands + [heavy], tmp_path)
    assert [argv for argv, _, _ in report] == commands + [heavy]
    failed = [(argv, code) for argv, code, _ in report if code != 0]
    assert not failed, failed
    # sys.modules only grows: the first command that shows a heavy module is the one that imported it
    light = [(argv, loaded) for argv, _, loaded in report[:-1] if loaded]
    assert not light, f'composer-sched {" ".join(light[0][0])} imported {light[0][1]}'
    assert {'torch', 'composer'} <= set(report[-1][2])  # the probe sees what a command imports
    for name in ('wsd.png', 'sgdr.png', 'bound.png', 'paper.png'):
        assert (tmp_path / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_the_catalog_is_what_the_classes_say():
    # `make gen` writes it; stale means `list` shows old arguments (or falls back to the slow path)
    stored = _catalog.PATH.read_text(encoding='utf-8')
    assert stored == _catalog._text(_catalog.build()), 'composer_sched/cli/catalog.json is stale: run make gen'


@pytest.mark.parametrize('argv', [['list'], ['list', 'wsd', 'autowu'], ['list', '--components']])
def test_list_from_the_catalog_equals_list_from_the_classes(argv, monkeypatch, capsys, tmp_path):
    assert main(argv) == 0
    fast = capsys.readouterr().out
    monkeypatch.setattr(_catalog, 'PATH', tmp_path / 'missing.json')  # no catalog: read the classes
    assert _catalog.load() is None
    assert main(argv) == 0
    slow = capsys.readouterr().out
    assert fast == slow and ('autowu (AutoWU)' in fast or argv == ['list', '--components'])


def test_a_catalog_for_other_methods_is_not_used(monkeypatch, tmp_path):
    stored = json.loads(_catalog.PATH.read_text(encoding='utf-8'))
    stored['methods'] = stored['methods'][:-1]  # as if a method was registered after make gen
    path = tmp_path / 'catalog.json'
    path.write_text(json.dumps(stored), encoding='utf-8')
    monkeypatch.setattr(_catalog, 'PATH', path)
    assert _catalog.load() is None
    path.write_text('{not json', encoding='utf-8')
    assert _catalog.load() is None
