"""The method layer speaks one vocabulary (issue 14): every parameter name is in the glossary with one meaning, and
one name always has one kind, whichever method uses it."""
import collections

import pytest

from composer_sched.adapters.spec import WARMUP_PARAMS, ScheduleSpec
from composer_sched.schedules import get_method, methods
from composer_sched.schedules.vocabulary import GLOSSARY, RENAMED


def _uses():
    uses = collections.defaultdict(list)
    for m in methods():
        for p in m.params:
            uses[p.name].append((m.name, p))
    for p in WARMUP_PARAMS:
        uses[p.name].append(('warm-up', p))
    return uses


USES = _uses()


def test_every_parameter_name_is_in_the_glossary_and_every_entry_is_used():
    assert sorted(set(USES) - set(GLOSSARY)) == [], 'add these names (one meaning each) to vocabulary.GLOSSARY'
    assert sorted(set(GLOSSARY) - set(USES)) == [], 'the glossary lists names no method uses'


def test_one_meaning_one_name():
    meanings = collections.Counter(GLOSSARY.values())
    assert [m for m, n in meanings.items() if n > 1] == []


@pytest.mark.parametrize('name', sorted(USES))
def test_a_name_has_one_kind_everywhere(name):
    kinds = {(p.kind, p.choices is not None, isinstance(p.default, bool)) for _, p in USES[name]}
    assert len(kinds) == 1, (name, USES[name])


@pytest.mark.parametrize('name', sorted(USES))
def test_naming_rules(name):
    for method, p in USES[name]:
        if name.startswith('alpha'):  # an LR multiplier: a non-negative number
            assert p.kind == 'value' and p.lo == 0 and p.choices is None, (method, p)
        if name.startswith('t_') and name != 't_mult':  # a duration (t_mult is torch's ratio T_mult)
            assert p.kind == 'duration', (method, p)
        if name == 't_max':  # Composer's t_max: where the shape ends on the run's clock, whatever the method
            assert p.end, (method, p)


def test_retired_names_are_not_used_and_get_a_did_you_mean():
    for old, new in RENAMED.items():
        assert new in GLOSSARY
        for method, _ in USES[new]:
            if method != 'warm-up' and old not in {p.name for p in get_method(method).params}:
                with pytest.raises(ValueError, match=rf"did you mean '{new}'\? '{old}' was renamed"):
                    ScheduleSpec(method, **{old: 1})
