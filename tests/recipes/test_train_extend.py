"""``composer-sched train --keep-stable`` / ``--extend-to R --from CKPT`` (issue 16 part 3): a finished WSD run grows
to a longer budget by training only the new batches, and the result equals an independent run at that ratio bit
for bit; a checkpoint that cannot continue exactly is refused before training (one line, exit 2)."""
import os
import shutil

import pytest
import torch

from composer_sched.cli import main
from composer_sched.sweep import SweepTarget
from composer_sched.sweep.execute import execute_run
from composer_sched.sweep.plan import RunSpec

# The digits CNN: 22 batches per epoch, 44 at ratio 1 (the sizes of tests/sweep/test_sweep_extend.py).
SMALL = ['max_duration=2ep', 'schedulers[0].t_warmup=4ba', 'schedulers[0].t_cooldown=0.2dur']


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err
    return err


@pytest.mark.slow
def test_extend_a_finished_run_equals_an_independent_run_bit_for_bit(tmp_path, capsys):
    kept, mine, alone = str(tmp_path / 'stable.pt'), str(tmp_path / 'mine.pt'), str(tmp_path / 'alone.pt')
    assert main(['train', *SMALL, '--quiet', '--keep-stable', kept]) == 0
    out = capsys.readouterr().out
    # The cool-down of ratio 1 starts at 0.8 x 44: the stable phase ends before it, and ratio 2 shares it.
    assert os.path.isfile(kept) and os.path.isfile(kept + '.json') and 'batch 36' in out
    assert main(['train', *SMALL, '--quiet', '--extend-to', '2', '--from', kept, '--save-weights', mine]) == 0
    out = capsys.readouterr().out
    assert 'trained 52 new batches' in out and '88 batches' in out

    target = SweepTarget(None, tuple(SMALL))
    row = execute_run(target, RunSpec('alone', 2.0, 0), target.load().fingerprint, save_weights=alone)
    assert row['status'] == 'done' and row['trained_batches'] == 88
    wm, wa = torch.load(mine), torch.load(alone)
    assert list(wm) == list(wa) and all(torch.equal(wm[k], wa[k]) for k in wm)

    # Refused before training, one line, exit 2.
    def refused(*extra):
        assert main(['train', *SMALL, '--quiet', *extra]) == 2
        return _error(capsys)

    assert 'the file exists' in refused('--keep-stable', kept)
    assert 'no such file' in refused('--extend-to', '2', '--from', str(tmp_path / 'nope.pt'))
    assert 'not a Composer checkpoint' in refused('--extend-to', '2', '--from', mine)  # a state_dict, no state
    assert 'go together' in refused('--extend-to', '2')
    assert 'ratio > 1' in refused('--extend-to', '1', '--from', kept)
    # What the checkpoint carries decides (its recipe fingerprint), not its name nor a record beside it.
    assert 'seed: 0 in the checkpoint, 3 in the recipe' in refused('seed=3', '--extend-to', '2', '--from', kept)
    assert 'optimizer.lr: 0.05 in the checkpoint, 0.1 in the recipe' in refused('optimizer.lr=0.1', '--extend-to',
                                                                                  '2', '--from', kept)
    assert 'schedulers[0].t_warmup: "4ba" in the checkpoint, "8ba"' in refused(
        'schedulers[0].t_warmup=8ba', '--extend-to', '2', '--from', kept)
    bare = str(tmp_path / 'bare.pt')
    shutil.copyfile(kept, bare)
    os.remove(kept + '.json')
    assert 'schedulers[0].t_cooldown' in refused('schedulers[0].t_cooldown=0.5dur', '--extend-to', '2', '--from', bare)
    # A cosine schedule has no stable phase a longer run shares: nothing to keep.
    cosine = ['schedulers[0].name=cosine_annealing', '~schedulers[0].t_warmup', '~schedulers[0].t_cooldown']
    assert '--keep-stable' in refused(*cosine, '--keep-stable', str(tmp_path / 'c.pt'))
    assert 'schedulers[0].name: "wsd" in the checkpoint' in refused(*cosine, '--extend-to', '2', '--from', bare)
