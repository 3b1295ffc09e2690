"""The sweep's view of a recipe: which way a metric improves, and what makes two sweeps the same recipe."""
import pytest

from composer_sched.sweep import SweepTarget
from composer_sched.sweep.target import metric_goal


@pytest.mark.parametrize('name, goal', [
    ('LanguageCrossEntropy', 'min'),  # the tiny LM's eval metrics (composer.metrics.nlp)
    ('LanguagePerplexity', 'min'),
    ('CrossEntropy', 'min'),
    ('loss', 'min'),
    ('eval/loss', 'min'),
    ('top1_error', 'min'),
    ('MulticlassAccuracy', 'max'),
    ('BinaryF1Score', 'max'),
])
def test_metric_goal(name, goal):
    assert metric_goal(name) == goal


def _text(path, letter):
    path.write_text((letter * 63 + '\n') * 200)  # 12,800 bytes: three segments of 4096


@pytest.mark.slow
def test_fingerprint_follows_the_texts_content_not_only_its_path(tmp_path):
    corpus = tmp_path / 'corpus.txt'
    target = SweepTarget('tinylm_wsd', (f'data.path={corpus}', 'max_duration=20ba'))
    _text(corpus, 'a')
    first = target.load()
    assert first.data_metadata()['data/sha256'] and 'data/source' not in first.data_metadata()
    assert target.load().fingerprint == first.fingerprint
    _text(corpus, 'b')  # same file, same size, another text (e.g. Python's docs under another Python version)
    assert target.load().fingerprint != first.fingerprint


def test_a_dataset_without_metadata_keeps_its_fingerprint():
    loaded = SweepTarget(None, ('max_duration=2ep',)).load()
    assert loaded.data_metadata() == {}
    skip = ('seed', 'run_name', 'progress_bar', 'loggers', 'scale_schedule_ratio')
    assert loaded.fingerprint == loaded._hash({k: v for k, v in loaded.config.items() if k not in skip})
