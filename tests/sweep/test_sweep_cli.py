"""The sweep command line: bad input is one line and exit 2 before any training; --help has examples;
the report's pieces (frontier, recommendation, fitted curve) on data whose answer is known independently."""
import os

import numpy as np
import pytest

from composer_sched.cli import main
from composer_sched.sweep.report import QualityCurve, RatioSummary, fit_curve, pareto_front, recommend


@pytest.mark.parametrize('argv, needle', [
    (['--ratios', '0,1'], '--ratios='),
    (['--ratios', '0.5,abc'], '--ratios='),
    (['--workers', '0'], '--workers=0'),
    (['--seeds', '0'], '--seeds=0'),
    (['--backend', 'kubernetes'], "--backend='kubernetes'"),  # slurm is one now
    (['--tolerance', '-1'], '--tolerance=-1'),
    (['--metric', 'BLEU'], "--metric='BLEU'"),
    (['bogus_key=1'], 'bogus_key'),
    (['--ratios', '0.005,1'], 'ratio 0.005'),  # 0 of the default recipe's 132 batches
    (['a.yaml', 'b.yaml'], "'b.yaml' is not allowed"),
])
def test_bad_input_is_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    out = tmp_path / 'out'
    assert main(['sweep', '--out', str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('composer-sched sweep: error:') and needle in err and '\n' not in err
    assert not (out / 'results.sqlite').exists()  # nothing was recorded, let alone trained


def test_help_has_examples(capsys):
    try:  # argparse exits on --help; the CLI's main may turn that into its return value
        code = main(['sweep', '--help'])
    except SystemExit as e:
        code = e.code
    assert code in (0, None)
    text = capsys.readouterr().out
    for flag in ('--ratios', '--seeds', '--workers', '--backend', '--address', '--out', '--tolerance', 'examples:'):
        assert flag in text


def test_cli_sweep_writes_outputs_and_resumes(tmp_path, capsys):
    argv = ['sweep', '--ratios', '0.5,1', '--out', str(tmp_path), 'max_duration=1ep', 'schedulers[0].t_warmup=2ba']
    assert main(argv) == 0
    text = capsys.readouterr().out
    for f in ('results.sqlite', 'results.csv', 'tradeoff.png'):
        assert os.path.getsize(tmp_path / f) > 0 and f in text
    assert 'recommendation: ratio' in text and 'trunk sharing' in text
    assert not os.path.exists(tmp_path / 'checkpoints')  # every branch done: trunk checkpoints removed
    assert main(argv) == 0
    assert '2 run(s) already finished' in capsys.readouterr().out


def test_pareto_front_against_brute_force():
    rng = np.random.default_rng(0)
    costs, quality = rng.integers(1, 20, 30).tolist(), rng.random(30).tolist()
    front = set(pareto_front(costs, quality))
    for i in range(30):
        dominated = any(costs[j] <= costs[i] and quality[j] >= quality[i] and
                        (costs[j] < costs[i] or quality[j] > quality[i]) for j in range(30))
        if dominated:
            assert i not in front
    assert front  # the cheapest of the best is always there
    assert int(np.argmax(quality)) in front or any(quality[i] == max(quality) for i in front)
    # Lower-is-better metrics flip the quality axis.
    assert pareto_front([1, 2, 3], [0.9, 0.5, 0.7], goal='min') == [0, 1]


def test_recommend_picks_smallest_ratio_within_tolerance():
    def s(r, q):
        return RatioSummary(r, 1, 0, r * 100, r * 100, 1.0, 1.0, {'acc': q}, {'acc': 0.0})
    rows = [s(0.25, 0.80), s(0.5, 0.945), s(0.75, 0.96), s(1.0, 0.955)]
    assert recommend(rows, 'acc', 0.02, 'max') == (0.75, 0.5)
    assert recommend(rows, 'acc', 0.0, 'max') == (0.75, 0.75)
    assert recommend(rows, 'acc', 1.0, 'max') == (0.75, 0.25)
    assert recommend([s(0.5, 0.3), s(1.0, 0.2)], 'acc', 0.05, 'min') == (1.0, 1.0)


def test_fit_curve_recovers_a_power_law():
    c = np.array([100, 200, 300, 400, 600, 800], dtype=float)
    q = 0.95 - 3.0 * c ** -0.7
    curve = fit_curve(np.repeat(c, 2), np.repeat(q, 2))
    assert curve.kind == 'power' and curve.r2 > 0.999
    assert curve.a == pytest.approx(0.95, abs=1e-3) and curve.alpha == pytest.approx(0.7, abs=0.02)
    assert np.allclose(curve([250, 500]), 0.95 - 3.0 * np.array([250, 500.0]) ** -0.7, atol=1e-4)
    # Fewer than four costs: a + b ln(c), exact on log-linear data.
    lin = fit_curve([10, 100, 1000], [0.5, 0.6, 0.7])
    assert isinstance(lin, QualityCurve) and lin.kind == 'log' and lin.b == pytest.approx(0.1 / np.log(10))
    assert fit_curve([5, 5], [0.1, 0.2]) is None
