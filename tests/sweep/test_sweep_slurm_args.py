"""``--backend slurm`` input checks that need no cluster: refused in one line, exit 2, before any training."""
import pytest

from composer_sched.cli import main
from composer_sched.sweep.slurm import parse_slurm_options, slurm_minutes


def test_no_sbatch_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('PATH', str(tmp_path))  # a PATH with no sbatch on it
    code = main(['sweep', '--backend', 'slurm', '--out', str(tmp_path / 's'), 'max_duration=8ba'])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and 'sbatch' in err
    assert not (tmp_path / 's' / 'slurm').exists()  # nothing submitted


@pytest.mark.parametrize('items, needle', [
    (['partition'], 'key=value'),
    (['nodes=2'], "'nodes' is not a known key"),
    (['time=1:2:3:4'], 'Slurm time'),
    (['time=0'], '> 0'),
    (['checkpoint_every=0'], 'batches >= 1'),
    (['qos=a', 'qos=b'], 'given twice'),
])
def test_bad_slurm_options_name_the_option(items, needle):
    with pytest.raises(ValueError, match='--slurm') as e:
        parse_slurm_options(items)
    assert needle in str(e.value)


def test_slurm_options_need_the_slurm_backend(tmp_path, capsys):
    code = main(['sweep', '--slurm', 'partition=gpu', '--out', str(tmp_path / 's'), 'max_duration=8ba'])
    assert code == 2 and '--backend slurm' in capsys.readouterr().err


def test_slurm_time_formats():
    # Slurm's sbatch(1) --time formats: minutes, M:S, H:M:S, D-H, D-H:M, D-H:M:S (seconds rounded up to a minute).
    assert [slurm_minutes(t) for t in ('5', '0:30', '1:00:01', '2-0', '0-1:01', '1-00:00:30')] == \
        [5, 1, 61, 2880, 61, 1441]
