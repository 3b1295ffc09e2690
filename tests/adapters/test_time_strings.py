"""The adapters read durations without Composer (composer_sched.adapters.durations.as_span); the peer is Composer's
own reader, `composer.core.Time.from_timestring` (mosaicml 0.32.1, composer/core/time.py): same values, same units,
the same strings refused."""
from __future__ import annotations

import pytest
from composer.core import Time, TimeUnit
from hypothesis import given
from hypothesis import strategies as st

from composer_sched.adapters.durations import (
    Horizon,
    Span,
    Unit,
    as_span,
    as_unit,
    num_batches,
    parse_duration,
    scaled_max_duration,
    scaled_span,
    timestamp_field,
)

CASES = ['5ep', '3e4tok', '0.5dur', '100ba', '6e4sp', '2EP', '0ba', '1.0ba', '1e400ba', '1.5ba', 'ba', '5', '',
         '1h30m', '90s', '2h', '7iter', '3sec', '-2ba', '0.25DUR', 'inf dur', 'nanba', '1e-3dur', '12 ba', 'x5ba']


def _composer(text: str):
    try:
        t = Time.from_timestring(text)
    except (ValueError, TypeError, OverflowError, KeyError) as e:
        return type(e).__name__ if not isinstance(e, KeyError) else 'ValueError'
    return (t.value, t.unit.value)


def _ours(text: str):
    try:
        s = as_span(text)
    except (ValueError, TypeError, OverflowError) as e:
        return type(e).__name__
    return (s.value, s.unit.value)


@pytest.mark.parametrize('text', CASES)
def test_time_strings_read_as_composer_reads_them(text):
    ours, theirs = _ours(text), _composer(text)
    if isinstance(theirs, tuple) and theirs[0] != theirs[0]:  # nan
        assert ours[1] == theirs[1] and ours[0] != ours[0]
    else:
        assert ours == theirs
        if isinstance(ours, tuple):
            assert type(as_span(text).value) is type(Time.from_timestring(text).value)


@given(st.one_of(st.integers(0, 10**12), st.floats(0, 1e9, allow_nan=False)),
       st.sampled_from(['ep', 'ba', 'sp', 'tok', 'dur', 'Ba', 'TOK']))
def test_generated_time_strings_read_as_composer_reads_them(value, unit):
    text = f'{value}{unit}'
    assert _ours(text) == _composer(text)


def test_composer_objects_are_taken_and_compared_by_value():
    assert as_span(Time(3, TimeUnit.EPOCH)) == Span(3, Unit.EPOCH)
    assert as_unit(TimeUnit.TOKEN) is Unit.TOKEN and timestamp_field(TimeUnit.SAMPLE) == 'sample'
    assert Horizon(TimeUnit.BATCH, 10.0).axis is Unit.BATCH
    h = Horizon.from_max_duration(Time(4, TimeUnit.EPOCH), None, batches_per_epoch=25)
    assert (h.axis, h.total) == (Unit.BATCH, 100.0)
    assert num_batches(Time(100, TimeUnit.SAMPLE), samples_per_batch=32) == num_batches('100sp', samples_per_batch=32)
    assert str(parse_duration('t', Time(0.5, TimeUnit.DURATION))) == '0.5dur'


@pytest.mark.parametrize('md, ssr', [('10ep', 0.55), ('1000ba', 0.3333), ('7sp', 1.0), (12, 0.5), ('0.5dur', 0.5),
                                     ('999tok', 1.7)])
def test_scaled_durations_match_composers_time_arithmetic(md, ssr):
    # Trainer(scale_schedule_ratio=r) scales max_duration with Time.__mul__ (int-truncated for integer units)
    theirs = Time.from_input(md, TimeUnit.EPOCH) * ssr if ssr != 1.0 else Time.from_input(md, TimeUnit.EPOCH)
    ours = scaled_span(md, ssr)
    assert (ours.value, ours.unit.value) == (theirs.value, theirs.unit.value)
    assert scaled_max_duration(md, ssr) == theirs


def test_units_that_cannot_place_a_schedule_are_refused_by_name():
    for text in ('1h30m', '7iter', '3sec'):
        with pytest.raises(ValueError, match=r"t_max=.* unit '(sec|iter)' cannot place a schedule"):
            parse_duration('t_max', text)
