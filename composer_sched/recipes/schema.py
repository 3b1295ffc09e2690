"""The typed recipe schema (dataclasses, turned into an omegaconf structured config) and its key-path checker.

The checker walks a plain mapping against the dataclasses, so every error names the key path
(``optimizer.lr``, ``schedulers[0].t_cooldown``) and unknown keys get the closest valid names. The per-name
sections (``model``, ``data``, ``optimizer``, each scheduler and algorithm) are free mappings here; the components
module checks them against the builder each names.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from composer_sched.schedules.registry import suggest

__all__ = ['RecipeError', 'RecipeConfig', 'EvalConfig', 'LoggersConfig', 'check_section', 'DEVICES']

DEVICES = ('cpu', 'gpu', 'mps')


class RecipeError(ValueError):
    """A recipe that cannot run: the message names the file and the key path, and suggests close names.

    Attributes:
        file: the recipe file (or ``'<recipe>'``).
        key: the key path, e.g. ``'algorithms.wsd.t_cooldown'`` (``''``: the whole file).
        reason: what is wrong and what is allowed.
    """

    def __init__(self, file: Optional[str], key: str, reason: str):
        self.file = file or '<recipe>'
        self.key = key
        self.reason = reason
        super().__init__(f'{self.file}: {key}: {reason}' if key else f'{self.file}: {reason}')


@dataclass
class EvalConfig:
    """``eval``: evaluation on the data's validation split.

    Attributes:
        enabled: evaluate at all.
        interval: Composer time string between evaluations (``'1ep'``, ``'100ba'``, ``'0.25dur'``).
        subset_num_batches: evaluate on only this many batches (``-1``: all).
    """
    enabled: bool = True
    interval: str = '1ep'
    subset_num_batches: int = -1


@dataclass
class LoggersConfig:
    """``loggers``: Composer loggers; ``null`` (or absent) switches one off, a mapping holds its arguments.

    Attributes:
        console: ``{log_interval: '1ep'}``: metrics printed to the console (instead of the progress bar).
        file: ``{filename: 'runs/{run_name}/log.txt'}``: Composer's ``FileLogger``.
        tensorboard: ``{log_dir: 'runs/tb'}``: needs ``pip install tensorboard``.
        mlflow: ``MLFlowLogger`` arguments: needs ``pip install mlflow``.
        lr_monitor: log every optimizer group's LR after every batch (Composer's ``LRMonitor``).
    """
    console: Optional[Dict[str, Any]] = None
    file: Optional[Dict[str, Any]] = None
    tensorboard: Optional[Dict[str, Any]] = None
    mlflow: Optional[Dict[str, Any]] = None
    lr_monitor: bool = True


@dataclass
class RecipeConfig:
    """A whole recipe, resolved (see :mod:`composer_sched.recipes` for the YAML shape).

    Attributes:
        name, description: free text for listings and run names.
        variables: free values, referenced elsewhere as ``${variables.x}``.
        seed: the run's seed (model init, shuffling, Composer's RNGs).
        device: ``'cpu'``, ``'gpu'`` or ``'mps'``.
        max_duration: the unscaled training length, a Composer time string in ``ep``, ``ba``, ``sp`` or ``tok``.
        scale_schedule_ratio: ``Trainer(scale_schedule_ratio=...)``, finite and ``> 0``.
        model, data, optimizer: ``{name: ..., <arguments>}`` (``composer-sched list --components``).
        schedulers: a list of ``{name: ..., <parameters>}``; several multiply.
        algorithms: ``{<name>: {<constructor arguments>}}``.
        eval, loggers: see :class:`EvalConfig` and :class:`LoggersConfig`.
        train_subset_num_batches: train on only this many batches per epoch (``-1``: all).
        progress_bar: show Composer's progress bar.
        run_name: Composer's run name (``None``: Composer picks one).
        save_folder, save_interval, save_num_checkpoints_to_keep, save_overwrite, load_path, load_weights_only,
            load_ignore_keys, autoresume: Composer's checkpointing arguments, as llm-foundry's YAML spells them
            (``Trainer(save_folder=...)``, ...); every checkpoint carries the recipe's fingerprint
            (:mod:`composer_sched.recipes.checkpoints`). ``autoresume: true`` needs ``save_folder`` and
            ``run_name``.
        extend: ``{from: CKPT, ratio: R, peak: X, rewarm: B}``: train this recipe as ``train --extend-to R --from
            CKPT [--peak X] [--rewarm B]`` does (``peak`` and ``rewarm`` optional, for a final checkpoint).
    """
    name: str = ''
    description: str = ''
    variables: Dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = 'cpu'
    max_duration: str = '1ep'
    scale_schedule_ratio: float = 1.0
    model: Dict[str, Any] = field(default_factory=dict)
    data: Dict[str, Any] = field(default_factory=dict)
    optimizer: Dict[str, Any] = field(default_factory=dict)
    schedulers: List[Dict[str, Any]] = field(default_factory=list)
    algorithms: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    eval: EvalConfig = field(default_factory=EvalConfig)
    loggers: LoggersConfig = field(default_factory=LoggersConfig)
    train_subset_num_batches: int = -1
    progress_bar: bool = True
    run_name: Optional[str] = None
    save_folder: Optional[str] = None
    save_interval: str = '1ep'
    save_num_checkpoints_to_keep: int = -1
    save_overwrite: bool = False
    load_path: Optional[str] = None
    load_weights_only: bool = False
    load_ignore_keys: Optional[List[str]] = None
    autoresume: bool = False
    extend: Optional[Dict[str, Any]] = None


#: keys every recipe must set (after its base is merged in)
REQUIRED_KEYS = ('max_duration', 'model', 'data', 'optimizer')


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return f'{_type_name(args[0])} or null'
    if origin in (dict, Dict):
        return 'a mapping'
    if origin in (list, List):
        return 'a list'
    if dataclasses.is_dataclass(tp):
        return 'a mapping'
    return {int: 'an integer', float: 'a number', bool: 'true or false', str: 'a string'}.get(tp, str(tp))


def _check_value(file: Optional[str], key: str, tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        if value is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)][0]
        return _check_value(file, key, inner, value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return check_section(file, key, tp, value)
    ok = {
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        bool: isinstance(value, bool),
        str: isinstance(value, str),
    }.get(tp)
    if origin in (dict, Dict):
        ok = isinstance(value, dict)
        if ok and typing.get_args(tp)[1] is not Any:
            for k, v in value.items():
                if v is None:  # `name:` with nothing after it: no arguments
                    value[k] = {}
                elif not isinstance(v, dict):
                    raise RecipeError(file, f'{key}.{k}', f'{v!r} is not allowed: give a mapping of arguments '
                                      '(or nothing, for the defaults).')
    elif origin in (list, List):
        ok = isinstance(value, list)
        item_tp = (typing.get_args(tp) or (Any,))[0]
        if ok and typing.get_origin(item_tp) in (dict, Dict):
            for i, v in enumerate(value):
                if not isinstance(v, dict):
                    raise RecipeError(file, f'{key}[{i}]', f'{v!r} is not allowed: each entry of {key} must be a '
                                      'mapping, e.g. {name: ..., <parameters>}.')
    if not ok:
        raise RecipeError(file, key, f'{value!r} is not allowed: {key.rsplit(".", 1)[-1]} must be {_type_name(tp)}.')
    return float(value) if tp is float else value


def check_section(file: Optional[str], prefix: str, cls: type, value: Any) -> Any:
    """Check the mapping ``value`` against the dataclass ``cls`` and build it.

    Raises:
        RecipeError: ``value`` is not a mapping, has an unknown key (with the closest valid ones), or a value of
            the wrong type; the message names ``file`` and the key path under ``prefix``.
    """
    where = prefix or 'the recipe'
    if not isinstance(value, dict):
        raise RecipeError(file, prefix, f'{value!r} is not allowed: {where} must be a mapping.')
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for k in value:
        if k not in fields:
            raise RecipeError(file, f'{prefix}.{k}' if prefix else str(k),
                              f'unknown key{suggest(k, list(fields))}; valid keys{" of " + prefix if prefix else ""}:'
                              f' {", ".join(fields)}.')
    kwargs = {k: _check_value(file, f'{prefix}.{k}' if prefix else k, hints[k], v) for k, v in value.items()}
    return cls(**kwargs)
