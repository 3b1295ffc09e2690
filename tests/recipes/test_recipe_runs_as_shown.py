"""Issue 13: what the CLI shows before training is what the Trainer then does (AutoWU's known part, a ratio with no
schedulers), and a long run reports progress without flooding a log."""
from __future__ import annotations

import numpy as np
import pytest
from composer.core import Callback

from composer_sched.cli import main
from composer_sched.recipes import load_recipe


class LRs(Callback):
    """The LR every batch trains with (read at BATCH_START, after the schedulers and algorithms set it)."""

    def __init__(self):
        self.values = []

    def batch_start(self, state, logger):
        self.values.append(state.optimizers[0].param_groups[0]['lr'])


def run(recipe, **kwargs):
    rec = LRs()
    trainer = recipe.build_trainer(callbacks=[rec], progress_bar=False, **kwargs)
    trainer.fit()
    trainer.close()
    return np.array(rec.values), trainer


TINY = ['max_duration=4ep', 'train_subset_num_batches=5', 'eval.enabled=false']


def test_autowu_is_shown_as_ramp_and_possible_decays_not_a_constant(tmp_path, capsys):
    # was: preview, plot and bound showed a constant LR of 0.05 (the optimizer's) for the whole run
    recipe = load_recipe('algorithms/autowu', TINY)
    assert recipe.loss_driven == ['autowu']
    outlook = recipe.outlook()
    cfg = recipe.build_algorithms()[0].config
    assert outlook.total == 20 and outlook.cap == 10  # max_warmup_fraction 0.5 of 20 batches
    assert outlook.ramp[0] == pytest.approx(cfg.min_lr) and outlook.ramp[-1] == pytest.approx(cfg.max_lr)
    assert len(outlook.decays) >= 2 and all(len(lrs) == 20 for _, _, lrs in outlook.decays)
    lrs = recipe.preview() * recipe.lr
    assert lrs[0] == pytest.approx(cfg.min_lr) and lrs.max() == pytest.approx(cfg.max_lr)
    assert main(['train', 'algorithms/autowu', *TINY, '--dry-run', '--plot', str(tmp_path / 'a.png')]) == 0
    out = capsys.readouterr().out
    assert 'the switch depends on the loss' in out and 'possible decays' in out
    assert (tmp_path / 'a.png').stat().st_size > 1000
    # the bound says which run it bounds, and bounds the AutoWU run's own LRs, not the optimizer's constant 0.05
    sets = [a for o in TINY for a in ('--set', o)]
    assert main(['bound', '--recipe', 'algorithms/autowu', *sets, '-o', str(tmp_path / 'b.png')]) == 0
    out = capsys.readouterr().out
    assert 'sets the LR from the training loss' in out and 'never triggers an early switch' in out


@pytest.mark.slow
def test_autowu_outlook_is_what_the_trainer_applies():
    # warmup_only: the switch comes at the cap, so the whole run is known: it must be the outlook's latest curve
    recipe = load_recipe('algorithms/autowu', TINY + ['algorithms.autowu.warmup_only=true'])
    lrs, _ = run(recipe)
    np.testing.assert_allclose(lrs, recipe.outlook().latest, rtol=1e-12, atol=0)
    # with the loss test on, the warm-up the run applied is the outlook's ramp, up to wherever the loss switched
    recipe = load_recipe('algorithms/autowu', TINY + ['algorithms.autowu.test_interval=1',
                                                      'algorithms.autowu.patience=1'])
    lrs, trainer = run(recipe)
    algo = next(a for a in trainer.state.algorithms if type(a).__name__ == 'AutoWU')
    outlook = recipe.outlook()
    s = algo.switch_step
    assert outlook.earliest <= s <= outlook.cap
    np.testing.assert_allclose(lrs[:s], outlook.ramp[:s], rtol=1e-12, atol=0)
    assert lrs[s] <= outlook.ramp[s] * (1 + 1e-12)  # the switch LR is the ramp's at the minimum found, at most


@pytest.mark.slow
def test_ratio_without_schedulers_trains_as_previewed(capsys):
    # was: `train algorithms/wsd scale_schedule_ratio=0.5 max_duration=4ep` passed the dry run, then Composer
    # refused "scale_schedule_ratio without schedulers"
    over = ['scale_schedule_ratio=0.5', 'max_duration=4ep', 'train_subset_num_batches=4', 'algorithms.wsd.t_warmup=2ba',
            'eval.subset_num_batches=1']
    assert main(['train', 'algorithms/wsd', *over, '--progress-every', '3']) == 0
    out = capsys.readouterr().out
    assert ': 8 batches, 2 epochs' in out
    # not a terminal (captured): no progress bar redraws, a line every 3 batches and at the end
    progress = [ln for ln in out.splitlines() if ln.startswith('[progress] ')]
    assert [ln.split(',')[0] for ln in progress] == ['[progress] batch 3/8 (38%)', '[progress] batch 6/8 (75%)',
                                                   '[progress] batch 8/8 (100%)']
    assert '\r' not in out
    recipe = load_recipe('algorithms/wsd', over)
    lrs, _ = run(recipe)
    np.testing.assert_allclose(lrs, recipe.preview() * recipe.lr, rtol=1e-12, atol=1e-15)


def test_progress_lines_replace_the_bar_off_a_terminal():
    from composer_sched.recipes.progress import ProgressLines, auto_interval

    recipe = load_recipe(None, ['max_duration=2ep'])
    trainer = recipe.build_trainer()  # progress_bar: true in the recipe, but pytest's stderr is not a terminal
    lines = [c for c in trainer.state.callbacks if isinstance(c, ProgressLines)]
    assert len(lines) == 1 and lines[0].every == auto_interval(2 * recipe.dataloader_len) == 3
    assert not any(type(c).__name__ == 'ProgressBarLogger' for c in trainer.logger.destinations)
    trainer.close()
    quiet = recipe.build_trainer(progress_bar=False)
    assert not any(isinstance(c, ProgressLines) for c in quiet.state.callbacks)
    quiet.close()
