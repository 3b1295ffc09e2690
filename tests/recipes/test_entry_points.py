"""llm-foundry's registries find our schedulers and algorithms through entry points (after ``pip install -e .``),
and the bundled recipes ship in the package data."""
from __future__ import annotations

import configparser
from importlib.metadata import entry_points
from pathlib import Path

from composer_sched.adapters.schedulers import SCHEDULER_CLASSES
from composer_sched.algorithms import algorithm_classes
from composer_sched.schedules.registry import get_method

ROOT = Path(__file__).resolve().parents[2]


def test_scheduler_entry_points_resolve_to_our_classes():
    eps = {ep.name: ep for ep in entry_points(group='llmfoundry_schedulers')}
    assert set(eps) == set(SCHEDULER_CLASSES), 'setup.cfg [llmfoundry_schedulers] != registered methods'
    for name, ep in eps.items():
        cls = ep.load()
        assert cls is SCHEDULER_CLASSES[name]
        method = get_method(name)
        if not any(p.required for p in method.params):  # constructible from YAML kwargs, as llm-foundry does
            assert cls().method == name


def test_algorithm_entry_points_resolve_to_our_classes():
    # The old keys (linear_warmup, linear_cooldown) stay one release, loading their deprecated names with a warning.
    import pytest

    from composer_sched.algorithms import DEPRECATED_ALGORITHMS

    eps = {ep.name: ep for ep in entry_points(group='llmfoundry_algorithms')}
    ours = algorithm_classes()
    assert set(eps) == set(ours) | set(DEPRECATED_ALGORITHMS), 'setup.cfg [llmfoundry_algorithms] != registered'
    for name, ep in eps.items():
        if name in DEPRECATED_ALGORITHMS:
            with pytest.warns(DeprecationWarning, match=DEPRECATED_ALGORITHMS[name][1].capitalize()):
                assert issubclass(ep.load(), ours[DEPRECATED_ALGORITHMS[name][1]])
        else:
            assert ep.load() is ours[name]


def test_installed_metadata_matches_setup_cfg():
    # A stale install (setup.cfg edited, `pip install -e .` not rerun) would make llm-foundry miss names.
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'setup.cfg')
    for group in ('llmfoundry_schedulers', 'llmfoundry_algorithms'):
        declared = {line.split('=')[0].strip(): line.split('=')[1].strip()
                    for line in cfg['options.entry_points'][group].strip().splitlines()}
        installed = {ep.name: ep.value for ep in entry_points(group=group)}
        assert installed == declared


def test_package_data_covers_every_recipe():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'setup.cfg')
    data = cfg['options.package_data']
    pkg = ROOT / 'composer_sched'
    # each package's patterns are relative to that package's folder (composer_sched.recipes.yamls ->
    # composer_sched/recipes/yamls)
    shipped = {p for name, pats in data.items() if name == 'composer_sched' or name.startswith('composer_sched.')
               for pat in pats.split(',') for p in (ROOT / name.replace('.', '/')).glob(pat.strip())}
    recipes = set((pkg / 'recipes' / 'yamls').rglob('*.yaml'))
    assert recipes and recipes <= shipped
    assert (pkg / 'recipes' / 'yamls').resolve() == (ROOT / 'yamls').resolve()  # one copy of the files: the link
