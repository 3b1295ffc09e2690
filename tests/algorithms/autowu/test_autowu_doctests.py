"""The docstring examples of the AutoWU modules run and print what they show."""
import doctest
import importlib

import pytest


@pytest.mark.parametrize('name', ['composer_sched.algorithms.autowu.rollback', 'composer_sched.algorithms.autowu.engine'])
def test_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
