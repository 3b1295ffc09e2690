"""Everything read back from a checkpoint is verified by its content, not by its name (issue 25 item 1): every
checkpoint a recipe's Trainer writes carries the recipe fingerprint (everything but the duration, with the seed,
the optimizer as built and the data's identity) and the LR of every batch it trained; ``--from`` refuses a
mismatch naming the keys (exit 2, before training), and a sweep's ``stable/`` ignores a trunk that is not what its
name says, with a warning naming the file, and trains it from scratch."""
import os
import shutil

import pytest
import torch

from composer_sched.cli import main
from composer_sched.recipes import RecipeError, load_recipe
from composer_sched.recipes.checkpoints import read_checkpoint
from composer_sched.sweep import SweepTarget
from composer_sched.sweep.execute import execute_run
from composer_sched.sweep.plan import plan_sweep

# The digits CNN, 22 batches per epoch: 44 at ratio 1, the cool-down of 20% starts at batch 36.
SMALL = ['max_duration=2ep', 'schedulers[0].t_warmup=4ba', 'schedulers[0].t_cooldown=0.2dur',
         'eval.subset_num_batches=1']


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err, err
    return err


@pytest.fixture(scope='module')
def wsd_run(tmp_path_factory):
    """One finished WSD run: its kept stable checkpoint, a mid-run one inside the cool-down (batch 40) and its
    final checkpoint (batch 44), the last two written through the recipe's save_folder keys."""
    d = tmp_path_factory.mktemp('wsd')
    kept, folder = str(d / 'stable.pt'), str(d / 'ckpts')
    assert main(['train', *SMALL, '--quiet', '--keep-stable', kept, f'save_folder={folder}', 'save_interval=40ba',
                 'save_num_checkpoints_to_keep=-1']) == 0
    return {'kept': kept, 'mid': os.path.join(folder, 'ep1-ba40-rank0.pt'),
            'final': os.path.join(folder, 'latest-rank0.pt'), 'dir': d}


@pytest.mark.slow
def test_the_final_checkpoint_of_save_folder_carries_the_recipe_fingerprint_and_lr_history(wsd_run):
    info = read_checkpoint(wsd_run['final'])
    recipe = load_recipe(None, SMALL)
    assert info.is_final and info.batch == info.total == 44
    assert info.fingerprint == recipe.fingerprint()
    assert info.fingerprint['optimizer.momentum'] == 0.9 and 'max_duration' not in info.fingerprint
    assert info.lrs == pytest.approx(list(recipe.preview() * recipe.lr), rel=1e-9, abs=1e-15)
    mid = read_checkpoint(wsd_run['mid'])
    assert mid.batch == 40 and not mid.is_final and mid.stamp['kept'] == {os.path.abspath(wsd_run['kept']): 36}


@pytest.mark.slow
def test_extend_refuses_a_checkpoint_kept_with_momentum_0_9_for_a_momentum_0_5_recipe(wsd_run, capsys):
    assert main(['train', *SMALL, '--quiet', 'optimizer.momentum=0.5', '--extend-to', '2', '--from',
                 wsd_run['kept']]) == 2
    assert 'optimizer.momentum: 0.9 in the checkpoint, 0.5 in the recipe' in _error(capsys)


@pytest.mark.slow
def test_extend_refuses_an_sgd_checkpoint_for_an_adamw_recipe(wsd_run, capsys):
    assert main(['train', *SMALL, '--quiet', 'optimizer.name=adamw', '~optimizer.momentum', '--extend-to', '2',
                 '--from', wsd_run['kept']]) == 2
    err = _error(capsys)
    assert 'optimizer.class: "SGD" in the checkpoint, "AdamW" in the recipe' in err


@pytest.mark.slow
def test_extend_refuses_a_checkpoint_of_another_seed_whatever_its_name(wsd_run, capsys):
    renamed = str(wsd_run['dir'] / 'seed1.pt')
    shutil.copyfile(wsd_run['kept'], renamed)
    assert main(['train', *SMALL, '--quiet', 'seed=1', '--extend-to', '2', '--from', renamed]) == 2
    assert 'seed: 0 in the checkpoint, 1 in the recipe' in _error(capsys)


def test_extend_refuses_a_timestamp_only_file(tmp_path, capsys):
    fake = str(tmp_path / 'fake.pt')
    torch.save({'state': {'timestamp': {'Timestamp': {'batch': 36, 'epoch': 1}}}}, fake)
    assert main(['train', *SMALL, '--quiet', '--extend-to', '2', '--from', fake]) == 2
    assert 'carries no recipe fingerprint' in _error(capsys)


@pytest.mark.slow
def test_extend_from_a_mid_run_checkpoint_in_the_cool_down_points_to_the_kept_stable_checkpoint(wsd_run, capsys):
    assert main(['train', *SMALL, '--quiet', '--extend-to', '2', '--from', wsd_run['mid']]) == 2
    err = _error(capsys)
    assert 'inside the cool-down' in err and f'give --from {os.path.abspath(wsd_run["kept"])}' in err


def test_recipe_checkpoint_keys_are_checked_at_load(tmp_path):
    with pytest.raises(RecipeError, match='autoresume: true is not allowed without save_folder and run_name'):
        load_recipe(None, ['autoresume=true'])
    with pytest.raises(RecipeError, match='save_interval'):
        load_recipe(None, [f'save_folder={tmp_path}', 'save_interval=often'])
    with pytest.raises(RecipeError, match='load_path: .* no such file'):
        load_recipe(None, [f'load_path={tmp_path / "none.pt"}'])
    with pytest.raises(RecipeError, match='save_num_checkpoints_to_keep'):
        load_recipe(None, ['save_num_checkpoints_to_keep=-2'])
    r = load_recipe(None, [f'save_folder={tmp_path}', 'run_name=a', 'autoresume=true'])
    assert r.fingerprint() == load_recipe().fingerprint()  # where checkpoints go is not what the run is


@pytest.mark.slow
def test_sweep_ignores_a_renamed_or_truncated_trunk_in_stable_with_a_warning_and_trains_it_from_scratch(tmp_path):
    target = SweepTarget(None, tuple(SMALL))
    loaded = target.load()
    stable = str(tmp_path / 'stable')
    (first,) = plan_sweep(loaded, [1.0], [1], str(tmp_path / 'ckpt'), stable_dir=stable).runs
    assert execute_run(target, first, loaded.fingerprint)['status'] == 'done'
    (_, seed1), = first.keep_at
    # Seed 1's checkpoint under seed 0's name: used silently before.
    seed0 = seed1.replace('-s1-', '-s0-')
    shutil.copyfile(seed1, seed0)
    plan = plan_sweep(loaded, [2.0], [0, 1], str(tmp_path / 'ckpt'), stable_dir=stable)
    by_seed = {r.seed: r for r in plan.runs}
    assert by_seed[0].load_from is None and by_seed[1].load_from == seed1
    (warning,) = [r for r in plan.reasons if r.startswith('warning')]
    assert seed0 in warning and 'seed: 1 in the checkpoint, 0 in the recipe' in warning and 'from scratch' in warning
    # A truncated file: a warning naming it, not an error on every rerun.
    with open(seed1, 'rb') as f:
        head = f.read(200)
    with open(seed1, 'wb') as f:
        f.write(head)
    plan = plan_sweep(loaded, [2.0], [1], str(tmp_path / 'ckpt'), stable_dir=stable)
    assert plan.runs[0].load_from is None
    (warning,) = [r for r in plan.reasons if r.startswith('warning')]
    assert seed1 in warning and 'not a readable Composer checkpoint' in warning
