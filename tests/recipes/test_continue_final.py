"""Continuing a finished run from its FINAL checkpoint (issue 23): a re-warm from the LR it ended at to a new peak,
then the recipe's own decay family; the LR of every batch of a real Trainer is what the plan previews, continuous
at the join, and a resume from a mid-continuation checkpoint is exact. Refusals are one line, exit 2."""
import os

import numpy as np
import pytest
import torch
from composer.core import Callback, Event

from composer_sched.cli import main
from composer_sched.recipes import load_recipe
from composer_sched.recipes.checkpoints import read_checkpoint
from composer_sched.sweep.continuation import continuation_trainer, plan_continuation
from composer_sched.sweep.target import loaded_target

# The digits CNN cut to 8 batches per epoch (training is most of the cost): the finished run is 16 batches, its
# continuation to ratio 2 is 32.
COSINE = ['max_duration=2ep', 'train_subset_num_batches=8', 'schedulers=[{name: cosine_annealing, alpha_f: 0.1}]',
          'eval.subset_num_batches=1']


class _LRs(Callback):
    """The LR of group 0 as each batch starts (what the batch trains with)."""

    def __init__(self):
        self.lrs = {}

    def run_event(self, event, state, logger):
        if event == Event.BATCH_START:
            self.lrs[int(state.timestamp.batch)] = float(state.optimizers[0].param_groups[0]['lr'])


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err, err
    return err


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    d = tmp_path_factory.mktemp('cosine')
    assert main(['train', *COSINE, '--quiet', f'save_folder={d / "ck"}', 'save_interval=1dur']) == 0
    return {'final': str(d / 'ck' / 'latest-rank0.pt'), 'dir': d}


def _target():
    return loaded_target(load_recipe(None, COSINE))


@pytest.fixture(scope='module')
def continued(finished, tmp_path_factory):
    """The finished run continued to ratio 2 through the Python API (peak 0.5, re-warm 4), a checkpoint kept at
    batch 24: the LR of every batch and the final weights."""
    d = tmp_path_factory.mktemp('continued')
    target = _target()
    info = read_checkpoint(finished['final'])
    plan = plan_continuation(target, info, 2.0, finished['final'], peak=0.5, rewarm=4)
    rec = _LRs()
    trainer = continuation_trainer(target, plan, finished['final'], callbacks=[rec], progress_bar=False,
                                   save_folder=str(d), save_interval='24ba')
    trainer.fit()
    out = {'batches': int(trainer.state.timestamp.batch), 'lrs': rec.lrs, 'plan': plan, 'info': info,
           'weights': {k: v.clone() for k, v in trainer.state.model.state_dict().items()},
           'mid': str(d / 'ep2-ba24-rank0.pt'), 'end': str(d / 'latest-rank0.pt'), 'lr': target.recipe.lr}
    trainer.close()
    return out


def _same_weights(a, b) -> bool:
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_continued_run_applies_the_previewed_lr_on_every_batch(continued):
    plan, info, lr = continued['plan'], continued['info'], continued['lr']
    want = plan.applied() * lr
    # What `preview` (Composer's event order replayed) shows for the continuation is the plan's own curve.
    from composer_sched.adapters.continuation import ContinuationScheduler
    from composer_sched.previewing import preview

    shown = preview([ContinuationScheduler(plan.schedule)], '32ba', dataloader_len=8)
    np.testing.assert_allclose(shown * lr, want, rtol=1e-12, atol=1e-15)
    assert continued['batches'] == 32
    got = np.array([continued['lrs'][b] for b in range(16, 32)])
    np.testing.assert_allclose(got, want[16:], rtol=1e-9, atol=1e-15)
    # Continuous at the join: the first new batch trains with the LR the finished run was about to apply, and no
    # step is larger than the re-warm's (0.5 - end) / 4.
    groups = next(iter(info.state['optimizers'].values()))['param_groups']
    assert got[0] == pytest.approx(groups[0]['lr'], rel=1e-12)
    steps = np.abs(np.diff(np.r_[info.lrs[-1], got]))
    assert steps.max() <= (0.5 * lr - got[0]) / 4 * (1 + 1e-9)
    # The recipe's decay family: back down to the cosine's old floor (alpha_f = 0.1) at the new end (the last of
    # the 12 decaying batches trains one cosine step above it, at about 0.11 x lr).
    assert want[-1] == pytest.approx(0.1 * lr, rel=0.1) and want[-1] > 0.1 * lr and got.max() == pytest.approx(0.5 * lr)
    # The continued run's checkpoints hold the whole LR history, old part included.
    np.testing.assert_allclose(read_checkpoint(continued['end']).lrs, np.r_[info.lrs, got], rtol=1e-12)


@pytest.mark.slow
def test_a_resume_from_a_mid_continuation_checkpoint_is_exact(continued):
    rec = _LRs()
    again = continuation_trainer(_target(), continued['plan'], continued['mid'], callbacks=[rec], progress_bar=False)
    again.fit()
    assert min(rec.lrs) == 24 and all(rec.lrs[b] == continued['lrs'][b] for b in range(24, 32))
    assert _same_weights(again.state.model.state_dict(), continued['weights'])
    again.close()


@pytest.mark.slow
def test_the_cli_continues_a_final_checkpoint_as_the_python_api_and_prints_the_choice(finished, continued,
                                                                                     tmp_path, capsys):
    assert main(['train', *COSINE, '--dry-run', '--extend-to', '2', '--from', finished['final']]) == 0
    text = capsys.readouterr().out
    assert 'bound' in text and text.count('<- chosen') == 1 and 'continuation: batches 16..32 (ratio 2)' in text
    out = str(tmp_path / 'w.pt')
    assert main(['train', *COSINE, '--quiet', '--extend-to', '2', '--from', finished['final'], '--peak', '0.5',
                 '--rewarm', '4', '--save-weights', out]) == 0
    text = capsys.readouterr().out
    assert 'trained 16 new batches' in text and '32 batches' in text
    assert _same_weights(torch.load(out), continued['weights'])


@pytest.mark.slow
def test_continuing_a_final_checkpoint_refuses_what_it_cannot_continue(finished, tmp_path, capsys):
    final = finished['final']

    def refused(*extra):
        assert main(['train', *COSINE, '--quiet', *extra]) == 2
        return _error(capsys)

    assert 'ratio > 1' in refused('--extend-to', '0.5', '--from', final)
    # The end of a 16-batch run is not the end of this recipe's 24-batch run.
    assert 'end of a run of 16 batches, and this recipe trains 24' in refused('max_duration=3ep', '--extend-to', '2',
                                                                             '--from', final)
    assert 'schedulers[0].alpha_f: 0.1 in the checkpoint, 0.2' in refused('schedulers[0].alpha_f=0.2', '--extend-to',
                                                                          '2', '--from', final)
    assert '--rewarm=100' in refused('--extend-to', '2', '--from', final, '--rewarm', '100')
    assert '--peak=0' in refused('--extend-to', '2', '--from', final, '--peak', '0')
    assert '--peak and --rewarm' in refused('--peak', '0.5')


@pytest.mark.slow
def test_an_autowu_run_is_not_continued_and_the_refusal_says_why(tmp_path, capsys):
    recipe = ['algorithms/autowu', 'max_duration=1ep', 'train_subset_num_batches=8', 'eval.subset_num_batches=1']
    assert main(['train', *recipe, '--quiet', f'save_folder={tmp_path}', 'save_interval=1dur']) == 0
    capsys.readouterr()
    assert main(['train', *recipe, '--quiet', '--extend-to', '2', '--from',
                 os.path.join(tmp_path, 'latest-rank0.pt')]) == 2
    assert 'AutoWU decides its warm-up and decay from the training loss' in _error(capsys)


@pytest.mark.slow
def test_resuming_a_final_checkpoint_with_a_larger_max_duration_follows_the_continuation(finished, continued,
                                                                                         capsys):
    # Composer alone would give the batches after 16 the cosine of the new horizon: a jump from 0.1 x lr to about
    # 0.55 x lr. The recipe's load_path is read by content, and the run continues it instead.
    w = str(finished['dir'] / 'resumed.pt')
    assert main(['train', *COSINE, 'max_duration=4ep', f'load_path={finished["final"]}', '--quiet', '--peak', '0.5',
                 '--rewarm', '4', '--save-weights', w]) == 0
    out = capsys.readouterr().out
    assert 'continuing it' in out and 'trained 16 new batches' in out and '32 batches' in out
    assert _same_weights(torch.load(w), continued['weights'])  # exactly the continuation
    # Another recipe's checkpoint as load_path is refused before training, naming the key (--dry-run too).
    for extra in ([], ['--dry-run']):
        assert main(['train', *COSINE, 'seed=2', f'load_path={finished["final"]}', '--quiet', *extra]) == 2
        assert 'seed: 0 in the checkpoint, 2 in the recipe' in _error(capsys)


@pytest.mark.slow
def test_a_recipe_extend_entry_continues_a_final_checkpoint_as_the_options_do(finished, capsys):
    entry = f'extend={{from: {finished["final"]}, ratio: 2, peak: 0.5, rewarm: 4}}'
    assert main(['train', *COSINE, entry, '--dry-run']) == 0
    out = capsys.readouterr().out
    assert 're-warm from lr' in out and 'to 0.025 over 4 batches' in out
    assert main(['train', *COSINE, '--dry-run', '--extend-to', '2', '--from', finished['final'], '--peak', '0.5',
                 '--rewarm', '4']) == 0  # the same checks and plan from the options (trained by the test above)
    assert 'to 0.025 over 4 batches' in capsys.readouterr().out
    assert main(['train', *COSINE, entry, '--extend-to', '2', '--from', finished['final']]) == 2
    assert 'extend: entry' in _error(capsys)


def test_a_recipe_extend_entry_is_checked_at_load():
    from composer_sched.recipes import RecipeError

    for entry, key in (('{from: x.pt, ratio: 1}', 'extend.ratio'), ('{ratio: 2}', 'extend.from'),
                       ('{from: x.pt, ratio: 2, peak: -1}', 'extend.peak'), ('{from: x.pt, ratio: 2, rewarm: 0}',
                                                                             'extend.rewarm'),
                       ('{from: x.pt, ratio: 2, peek: 1}', 'extend.peek')):
        with pytest.raises(RecipeError, match=key.replace('.', r'\.')):
            load_recipe(None, [f'extend={entry}'])


@pytest.mark.slow
def test_a_run_whose_schedule_an_algorithm_sets_is_continued_from_its_final_checkpoint(tmp_path):
    recipe = ['max_duration=2ep', 'train_subset_num_batches=8', 'eval.subset_num_batches=1']
    assert main(['train', 'algorithms/wsd', *recipe, '--quiet', f'save_folder={tmp_path}', 'save_interval=1dur']) == 0
    final = str(tmp_path / 'latest-rank0.pt')
    target = loaded_target(load_recipe('algorithms/wsd', recipe))
    plan = plan_continuation(target, read_checkpoint(final), 2.0, final, peak=0.5, rewarm=4)
    rec = _LRs()
    trainer = continuation_trainer(target, plan, final, callbacks=[rec], progress_bar=False)
    trainer.fit()  # the WSD algorithm is replaced by the continuation (its effect is in what it continues)
    got = np.array([rec.lrs[b] for b in range(16, 32)])
    np.testing.assert_allclose(got, plan.applied()[16:] * target.recipe.lr, rtol=1e-9, atol=1e-15)
    trainer.close()
