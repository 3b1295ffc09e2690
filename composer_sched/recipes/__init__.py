"""YAML training recipes: one file describes a whole Composer run (llm-foundry's shape plus a scale-schedule ratio).

A recipe (every key but ``max_duration``, ``model``, ``data`` and ``optimizer`` is optional)::

    base: digits_cnn            # start from another recipe (bundled name or relative path); mappings merge
    name: wsd-digits            # free text
    variables: {lr: 0.05}       # free values, used as ${variables.lr}
    seed: 0
    device: cpu                 # cpu | gpu | mps
    max_duration: 6ep           # unscaled, in ep, ba, sp or tok (an int means epochs)
    scale_schedule_ratio: 1.0   # Trainer(scale_schedule_ratio=...), > 0
    model: {name: digits_cnn, width: 16}          # digits_cnn, cifar_resnet20/56, resnet18/50
    data: {name: digits, batch_size: 64}          # digits, cifar10 (path:), image_folder (path:)
    optimizer: {name: sgd, lr: ${variables.lr}, momentum: 0.9}   # sgd, adam, adamw, decoupled_sgdw/adamw
    schedulers:                 # a list (or one mapping); several multiply (Recipe.build_schedule)
      - {name: wsd, t_warmup: 20ba, t_cooldown: 0.3dur}   # our methods, or Composer's (composer.<name>)
    algorithms:                 # name -> constructor arguments; ours first, then composer.algorithms
      label_smoothing: {smoothing: 0.1}
    eval: {enabled: true, interval: 1ep, subset_num_batches: -1}
    loggers: {console: null, file: null, tensorboard: null, mlflow: null, lr_monitor: true}
    train_subset_num_batches: -1
    progress_bar: true
    run_name: null

``data`` also takes ``batch_size`` (per rank), ``eval_batch_size``, ``num_workers`` and ``drop_last``; its other keys
go to the dataset builder. Overrides are ``key=value`` strings (``algorithms.wsd.t_cooldown=0.3dur``,
``schedulers[0].alpha_f=0.1``, ``~algorithms.ema`` to remove one).

Bundled recipes are package data (``composer_sched/recipes/yamls``, read with :mod:`importlib.resources`:
:mod:`composer_sched.recipes.bundled`); the ``[RECIPE] key=value`` grammar is :mod:`composer_sched.recipes.overrides`.
``Recipe(mapping)`` is pure (no file, no data read); :func:`load_recipe` (= ``Recipe.load``) reads a file and
checks everything.

Everything is checked at load time (:func:`load_recipe`): unknown keys and names (with the closest valid ones),
types, ranges, schedule and algorithm parameters (by their own constructors), whether the schedules fit
``max_duration``, and whether the data can be read. Errors are :class:`RecipeError` (a ``ValueError``) naming the
file and the key path.

Example:
    >>> from composer_sched.recipes import load_recipe
    >>> recipe = load_recipe(overrides=['max_duration=2ep'])  # the bundled digits CNN
    >>> trainer = recipe.build_trainer(progress_bar=False)    # a composer.Trainer; trainer.fit() trains it
    >>> trainer.state.max_duration
    Time(2, TimeUnit.EPOCH)
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from composer_sched.recipes.recipe import DEFAULT_RECIPE, Recipe, bundled_recipes, load_recipe, recipe_dir
    from composer_sched.recipes.schema import RecipeConfig, RecipeError

__all__ = ['load_recipe', 'Recipe', 'RecipeError', 'RecipeConfig', 'bundled_recipes', 'recipe_dir', 'DEFAULT_RECIPE']

# Imported on first use: the pure submodules (``overrides``, ``bundled``) must not load Composer through this
# package's ``__init__`` (``composer-sched --help``, ``list`` and ``plot`` read them and answer without torch).
_EXPORTS = {'RecipeConfig': 'schema', 'RecipeError': 'schema', **dict.fromkeys(
    ('DEFAULT_RECIPE', 'Recipe', 'bundled_recipes', 'load_recipe', 'recipe_dir'), 'recipe')}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(f'{__name__}.{module}'), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
