"""The one ratio validation, and the duration helpers previews, recipes and sweeps share."""
from __future__ import annotations

import math
import re

import pytest
from composer.core import Time, TimeUnit

from composer_sched.adapters.durations import ReplayState, check_ratio, num_batches, scaled_max_duration


@pytest.mark.parametrize('value', [0.5, 1, 2.0, 1e-6, 3])
def test_accepts_finite_positive_numbers(value):
    assert check_ratio('ratio', value) == float(value) and isinstance(check_ratio('ratio', value), float)


@pytest.mark.parametrize('value', [0, 0.0, -0.5, math.inf, -math.inf, math.nan, True, '0.5', None, [0.5]])
def test_refuses_the_rest_naming_the_argument(value):
    text = f'scale_schedule_ratio={value!r} is not allowed: scale_schedule_ratio must be a finite number > 0.'
    with pytest.raises(ValueError, match=f'^{re.escape(text)}$'):
        check_ratio('scale_schedule_ratio', value)


def test_scaled_max_duration_is_the_trainers_rule():
    assert scaled_max_duration('10ep', 0.55) == Time(5, TimeUnit.EPOCH)  # int-truncated, unit kept
    assert scaled_max_duration(3, 1.0) == Time(3, TimeUnit.EPOCH)  # an int means epochs
    with pytest.raises(ValueError, match=r'ssr=0 is not allowed: ssr must be a finite number > 0'):
        scaled_max_duration('10ep', 0)
    with pytest.raises(ValueError, match=r'reduces max_duration=10ep to 0 ep'):
        scaled_max_duration('10ep', 0.05)


def test_num_batches_counts_the_partial_last_batch():
    assert num_batches(Time.from_timestring('100sp'), samples_per_batch=32) == 4
    assert num_batches(Time.from_timestring('2ep'), dataloader_len=7) == 14
    with pytest.raises(ValueError, match='needs tokens_per_batch'):
        num_batches(Time.from_timestring('1000tok'))


def test_replay_state_rolls_epochs_like_the_trainer():
    st = ReplayState(Time.from_timestring('2ep'), dataloader_len=3)
    ends = [st.advance(samples=4, tokens=10) for _ in range(6)]
    assert ends == [False, False, True, False, False, True]
    ts = st.timestamp
    assert (int(ts.epoch), int(ts.batch), int(ts.batch_in_epoch), int(ts.sample), int(ts.token)) == (2, 6, 0, 24, 60)
    assert st.get_elapsed_duration().value == 1.0
