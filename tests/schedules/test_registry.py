"""The method definition (issue 14): one frozen, typed config class per method, and the Method view derived from it."""
import dataclasses

import pytest

from composer_sched.schedules import LinearSchedule, Schedule, get_method, methods
from composer_sched.schedules import registry as R
from composer_sched.schedules._base import ParamError


@pytest.fixture
def scratch():
    """Register throw-away methods, then remove them: other tests parametrize over the registry."""
    before = dict(R._REGISTRY)
    yield
    R._REGISTRY.clear()
    R._REGISTRY.update(before)


def test_every_method_is_one_registered_config_class_and_its_view_is_derived_from_it():
    for m in methods():
        cls = m.config
        assert cls is not None and issubclass(cls, R.MethodConfig) and cls.NAME == m.name
        assert m.summary == cls.__doc__.strip().splitlines()[0] and m.aliases == dict(cls.ALIASES)
        assert m.budget_free_prefix == cls.BUDGET_FREE_PREFIX
        assert [p.name for p in m.params] == [f.name for f in dataclasses.fields(cls)]
        assert get_method(cls) is m
        config = cls(**m.example)  # frozen and keyword-only
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(config, m.params[0].name, None)
        with pytest.raises(TypeError):
            cls(*m.example.values())


def test_a_config_validates_each_field_in_the_users_name_and_core_errors_are_renamed():
    cls = get_method('triangular').config
    with pytest.raises(ParamError, match=r'^inc_fraction=1.5 is not allowed: inc_fraction must be in \[0, 1\]\.$'):
        cls(inc_fraction=1.5)
    with pytest.raises(ParamError, match=r"^decay_type='cos' is not allowed: .*one of 'linear', 'sqrt'"):
        get_method('wsd').config(decay_type='cos')
    # The core shape says cycle_length; the config's build says t_cycle (its ALIASES), as the user wrote it.
    with pytest.raises(ValueError, match=r'^t_cycle=0 is not allowed: t_cycle must be in \(0, inf\]\.$'):
        cls().build(t_cycle=0)
    assert cls(alpha_min=0.5, alpha_max=0.2).build(t_cycle=10)(5) == pytest.approx(0.2)  # a dip, as cosine rises


def test_register_declares_a_method_in_one_class(scratch):
    @R.register
    class RampConfig(R.MethodConfig):
        """Linear ramp from alpha_i to alpha_f over t_max.

        (the rest of the docstring is not the summary)
        """
        NAME = 'scratch_ramp'
        ALIASES = {'start': 'alpha_i', 'length': 't_max'}
        t_max: R.Duration = R.param('1dur', 'length', kind='duration')
        alpha_i: float = R.param(doc='start', lo=0, example=0.5)
        alpha_f: float = R.param(1.0, 'end', lo=0, hi=1, hi_open=True)

        def check(self) -> None:
            if self.alpha_f < self.alpha_i:
                raise ParamError('alpha_f', self.alpha_f, f'>= alpha_i ({self.alpha_i})')

        def build(self, t_max: float) -> Schedule:
            return LinearSchedule(start=self.alpha_i, end=self.alpha_f, length=t_max)

    m = get_method('scratch_ramp')
    assert m.config is RampConfig and m.summary == 'Linear ramp from alpha_i to alpha_f over t_max.'
    assert m.example == {'t_max': '1dur', 'alpha_i': 0.5, 'alpha_f': 1.0}
    assert m.defaults == {'t_max': '1dur', 'alpha_f': 1.0} and m.param('alpha_i').required
    assert m.param('alpha_f').allowed == 'in [0, 1)'
    assert m.build(t_max=10.0, alpha_i=0.5, alpha_f=0.9)(5) == pytest.approx(0.7)
    with pytest.raises(ParamError, match=r'^alpha_f=1 is not allowed: alpha_f must be in \[0, 1\)'):
        RampConfig(alpha_i=0.5, alpha_f=1)
    with pytest.raises(ParamError, match=r'^alpha_f=0.2 is not allowed: alpha_f must be >= alpha_i \(0.5\)'):
        RampConfig(alpha_i=0.5, alpha_f=0.2)  # check(): the cross-field rule, in the user's names
    with pytest.raises(ValueError, match=r'^t_max=0.0 is not allowed'):
        m.build(t_max=0.0, alpha_i=0.5, alpha_f=0.9)  # the core's 'length', renamed
    with pytest.raises(ValueError, match="'scratch_ramp' is already registered"):
        R.register(type('Again', (RampConfig,), {'__doc__': 'Again.'}))


def test_register_refuses_an_incomplete_declaration(scratch):
    with pytest.raises(TypeError, match='needs an example'):
        @R.register
        class NoExample(R.MethodConfig):
            """No example."""
            NAME = 'scratch_no_example'
            gamma: float = R.param(doc='required, so it needs an example', lo=0)

    with pytest.raises(TypeError, match='not declared with param'):
        @R.register
        class Plain(R.MethodConfig):
            """A plain field."""
            NAME = 'scratch_plain'
            gamma: float = 0.5

    with pytest.raises(TypeError, match='needs a NAME and a docstring'):
        @R.register
        class Nameless(R.MethodConfig):
            alpha: float = R.param(1.0, 'x', lo=0)

    with pytest.raises(ValueError, match="kind='seconds' is not allowed"):
        R.param(1.0, 'x', kind='seconds')


def test_the_warmup_is_declared_the_same_way():
    from composer_sched.adapters.spec import WARMUP_PARAMS
    from composer_sched.schedules.warmup import WarmupConfig
    assert [p.name for p in WARMUP_PARAMS] == ['t_warmup', 'warmup_type', 'alpha_warmup', 'scale_warmup',
                                                'warmup_overlay']
    with pytest.raises(ParamError, match="^scale_warmup='yes' is not allowed: scale_warmup must be true or false"):
        WarmupConfig(scale_warmup='yes')


def test_the_package_spells_out_for_type_checkers_what_it_re_exports():
    """The package imports every module at run time (a new method is one module); the TYPE_CHECKING block that lets
    mypy see the same names must list them all."""
    import pkgutil
    import re
    from pathlib import Path

    import composer_sched.schedules as S
    modules = {m.name for m in pkgutil.iter_modules(S.__path__)
               if not m.name.startswith('_') and m.name != 'registry' and m.name not in S.DEPRECATED_MODULES}
    listed = set(re.findall(r'from composer_sched\.schedules\.(\w+) import \*', Path(S.__file__).read_text()))
    assert listed == modules, f'add to the TYPE_CHECKING block of {S.__file__}: {sorted(modules - listed)}'
