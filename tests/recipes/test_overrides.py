"""``key=value`` items: the plain spellings read without omegaconf (so that ``composer-sched bound`` need not import
it) are exactly what omegaconf's YAML reader makes of them."""
from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from composer_sched.recipes.overrides import _NOT_PLAIN, _plain_value, parse_value


def _omegaconf(text):
    return OmegaConf.to_container(OmegaConf.from_dotlist([f'v={text}']), resolve=False)['v']


SAMPLES = ['0', '1', '-3', '+7', '007', '0x1f', '1_000', '1e-3', '1E3', '1.5e+2', '1.', '.5', '-0.25', '1e', 'inf',
           '.inf', 'nan', '0.2dur', '100ba', '3ep', '1.5tok', 'ba', 'wsd', 'True', 'yes', 'No', 'off', 'null', '~',
           'y', 'cosine_annealing', 'a-b', '1:30', '2024-01-01', "'1'", '[1, 2]', '', ' 1', '${variables.lr}']


def test_the_plain_reader_agrees_with_omegaconf_where_it_answers():
    answered = 0
    for text in SAMPLES:
        plain = _plain_value(text)
        if plain is not _NOT_PLAIN:
            answered += 1
            expected = _omegaconf(text)
            assert plain == expected and type(plain) is type(expected), (text, plain, expected)
        assert parse_value(text) == _omegaconf(text), text
    assert answered >= 12  # the common spellings are answered without omegaconf


@settings(max_examples=300)
@given(st.text(alphabet='0123456789.eE+-_abdurtkpsynoflTF', max_size=8))
def test_any_short_spelling_reads_as_omegaconf_reads_it(text):
    plain = _plain_value(text)
    if plain is not _NOT_PLAIN:
        expected = _omegaconf(text)
        assert plain == expected and type(plain) is type(expected), (text, plain, expected)


def test_plain_values_do_not_import_omegaconf():
    code = ("import sys; from composer_sched.recipes.overrides import parse_overrides; print(parse_overrides("
            "['t_cooldown=0.2dur', 'alpha_f=1e-2', 'decay_type=sqrt']), 'omegaconf' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "{'t_cooldown': '0.2dur', 'alpha_f': 0.01, 'decay_type': 'sqrt'} False"
