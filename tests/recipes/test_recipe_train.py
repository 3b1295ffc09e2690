"""Recipes build real Composer Trainers: the LR each batch gets (logged by LRMonitor) is the recipe's preview."""
from __future__ import annotations

import numpy as np
import pytest
from composer import Callback
from composer.loggers import InMemoryLogger

from composer_sched.recipes import load_recipe

FAST = ['max_duration=3ep', 'train_subset_num_batches=6', 'eval.subset_num_batches=1', 'progress_bar=false']


def logged_lrs(logger: InMemoryLogger) -> np.ndarray:
    key = next(k for k in logger.data if k.startswith('lr-'))
    return np.array([v for _, v in logger.data[key]], dtype=float)


class UsedLR(Callback):
    """Records the LR each batch's optimizer step uses (read just before the batch trains)."""

    def __init__(self):
        self.values = []

    def before_train_batch(self, state, logger):
        self.values.append(state.optimizers[0].param_groups[0]['lr'])


def assert_matches_preview(used: UsedLR, logger: InMemoryLogger, recipe) -> None:
    expected = recipe.preview() * recipe.lr
    np.testing.assert_allclose(used.values, expected, rtol=1e-6, atol=1e-12)
    # LRMonitor logs once per batch, at BATCH_END: after the Trainer stepped its schedulers (the next batch's LR),
    # or, when a schedule algorithm drives the LR (set at BATCH_START), the LR the batch used.
    logged = logged_lrs(logger)
    assert len(logged) == len(expected)
    assert np.allclose(logged[:-1], expected[1:], rtol=1e-6) or np.allclose(logged, expected, rtol=1e-6)


def test_default_recipe_trains_and_logs_lr_every_batch(tmp_path):
    r = load_recipe(None, FAST + ['schedulers[0].t_warmup=4ba', f'loggers.file={{filename: {tmp_path}/log.txt}}'])
    mem, used = InMemoryLogger(), UsedLR()
    trainer = r.build_trainer(loggers=[mem], callbacks=[used], run_name='recipe-test')
    assert trainer.state.run_name == 'recipe-test'  # a Trainer kwarg passes through
    trainer.fit()
    assert trainer.state.timestamp.batch.value == 18
    assert_matches_preview(used, mem, r)
    log = (tmp_path / 'log.txt').read_text()
    assert log.count('lr-SGD/group0') >= 18  # the file logger got the LR every batch too
    acc = float(trainer.state.eval_metrics['eval']['MulticlassAccuracy'].compute())
    assert 0.0 <= acc <= 1.0


def test_scale_schedule_ratio_from_the_recipe():
    r = load_recipe(None, FAST + ['scale_schedule_ratio=0.67', 'schedulers[0].t_warmup=4ba'])
    mem, used = InMemoryLogger(), UsedLR()
    trainer = r.build_trainer(loggers=[mem], callbacks=used)
    trainer.fit()
    n = int(3 * 0.67) * 6  # Composer truncates the scaled epochs
    assert trainer.state.timestamp.batch.value == n
    assert_matches_preview(used, mem, r)


def test_algorithm_recipe_trains_like_its_preview():
    r = load_recipe('algorithms/sgdr', FAST)
    assert r.config.schedulers == [] and list(r.config.algorithms) == ['sgdr']
    mem, used = InMemoryLogger(), UsedLR()
    trainer = r.build_trainer(loggers=[mem], callbacks=[used])
    assert type(trainer.state.algorithms[0]).__name__ == 'SGDR'
    trainer.fit()
    lrs = np.array(used.values)
    assert np.any(np.diff(lrs) > 0.01)  # a warm restart: the LR jumps up again
    assert_matches_preview(used, mem, r)


def test_composer_algorithm_from_the_recipe():
    r = load_recipe(None, FAST + ['schedulers[0].t_warmup=4ba', 'algorithms.label_smoothing={smoothing: 0.1}'])
    trainer = r.build_trainer()
    assert [type(a).__name__ for a in trainer.state.algorithms] == ['LabelSmoothing']
    assert trainer.state.algorithms[0].smoothing == pytest.approx(0.1)


def test_same_seed_same_run_and_fresh_objects():
    r = load_recipe(None, ['max_duration=1ep', 'train_subset_num_batches=3', 'eval.enabled=false',
                           'progress_bar=false', 'schedulers[0].t_warmup=0ba'])
    a, b = r.build_trainer(), r.build_trainer()
    assert a.state.model is not b.state.model and a.state.schedulers is not b.state.schedulers
    for pa, pb in zip(a.state.model.parameters(), b.state.model.parameters()):
        assert pa.data.equal(pb.data)  # the recipe's seed fixes the initialisation
    a.fit()
    b.fit()
    for pa, pb in zip(a.state.model.parameters(), b.state.model.parameters()):
        assert pa.data.equal(pb.data)
    other = load_recipe(None, ['seed=1', 'max_duration=1ep', 'schedulers[0].t_warmup=0ba']).build_model()
    assert not next(other.parameters()).data.equal(next(a.state.model.parameters()).data)


@pytest.mark.slow
@pytest.mark.parametrize('ratio', [1.0, 0.5])
def test_several_schedulers_multiply_in_the_run(ratio):
    """Issue 14, decision 5: a recipe's schedulers multiply in the run (as its preview and its sweep say), not
    Composer's rule for a list (the last LambdaLR decides): the LR of every batch is lr x the product of the
    factors, each previewed alone; the factors are chosen so neither alone equals the product."""
    from composer_sched.previewing import preview

    r = load_recipe(None, ['max_duration=2ep', 'train_subset_num_batches=6', 'eval.enabled=false',
                           'progress_bar=false', f'scale_schedule_ratio={ratio}',
                           'schedulers=[{name: wsd, t_warmup: 2ba, t_cooldown: 0.5dur}, '
                           '{name: composer.multi_step, milestones: [4ba, 8ba], gamma: 0.5}]'])
    used = UsedLR()
    trainer = r.build_trainer(callbacks=[used])
    trainer.fit()
    factors = [preview(s, r.max_duration, dataloader_len=r.dataloader_len, ssr=ratio) for s in r.build_schedulers()]
    product = factors[0] * factors[1]
    assert len(used.values) == len(product) == int(12 * ratio)
    np.testing.assert_allclose(used.values, r.lr * product, rtol=1e-6, atol=1e-12)  # every batch
    np.testing.assert_allclose(r.preview(scale_schedule_ratio=ratio), product, rtol=1e-12)
    for f in factors:  # the product differs from each factor alone (so the check can fail)
        assert np.abs(f - product).max() > 0.1
