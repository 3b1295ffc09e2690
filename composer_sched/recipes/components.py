"""Name -> builder catalogues for the recipe sections, and their checks.

Each check runs at load time and raises :class:`RecipeError` with the key path; schedulers, algorithms and
optimizers are checked by constructing them (so their own ``ValueError`` messages are reused), models and datasets
by their signatures (and datasets again when the recipe reads them).
"""
from __future__ import annotations

import importlib.util
import inspect
import re
from typing import Any, Callable, Optional

from composer_sched.recipes.schema import RecipeError
from composer_sched.schedules.registry import suggest

__all__ = ['LOADER_KEYS', 'check_kwargs', 'check_model_fits_data', 'model_builder', 'data_builder',
           'build_optimizer', 'build_scheduler', 'build_algorithm', 'composer_algorithms', 'composer_schedulers',
           'scheduler_names', 'algorithm_names', 'build_loggers', 'key_of_message', 'first_line']

#: keys of ``data`` that go to the dataloaders (the rest go to the dataset builder)
LOADER_KEYS = {'batch_size': 64, 'eval_batch_size': None, 'num_workers': 0, 'drop_last': True}
COMPOSER_PREFIX = 'composer.'


def first_line(obj: Any) -> str:
    """The first sentence-line of ``obj``'s docstring."""
    doc = inspect.getdoc(obj) or ''
    return doc.strip().split('\n\n')[0].replace('\n', ' ')


def key_of_message(message: str, names) -> Optional[str]:
    """The first of ``names`` the error ``message`` mentions as a word (to extend the key path), or ``None``."""
    hits = [(m.start(), n) for n in names for m in [re.search(rf'(?<![\w.]){re.escape(n)}(?!\w)', message)] if m]
    return min(hits)[1] if hits else None


def _params(fn: Callable) -> dict[str, inspect.Parameter]:
    ps = dict(inspect.signature(fn).parameters)  # a class's own __signature__ wins over its __init__
    ps.pop('self', None)
    return ps


def _admits_none(p: inspect.Parameter) -> bool:
    """Whether ``p``'s annotation allows ``None`` (``Optional[float]``, ``float | None``, ``Any``), read from the
    annotation's text so postponed annotations (``from __future__ import annotations``) count too."""
    ann = p.annotation
    if ann is inspect.Parameter.empty:
        return False
    text = ann if isinstance(ann, str) else repr(ann)
    return bool(re.search(r'\b(Optional|None|NoneType|Any)\b', text))


def check_kwargs(file: Optional[str], key: str, fn: Callable, kwargs: dict[str, Any], what: str,
                 skip: tuple[str, ...] = ()) -> None:
    """Check ``kwargs`` against ``fn``'s signature: unknown names (with the closest), missing required ones, and
    values whose type differs from a default's (int, float, bool, str).

    Raises:
        RecipeError: at ``key.<argument>``.
    """
    params = {n: p for n, p in _params(fn).items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    # A generated class's ``**misspelt`` only turns a typo into a ValueError: here it gets the recipe's own message.
    takes_any = any(p.kind == p.VAR_KEYWORD and n != 'misspelt' for n, p in _params(fn).items())
    valid = [n for n in params if n not in skip]
    for k, v in kwargs.items():
        if k not in params and not takes_any:
            raise RecipeError(file, f'{key}.{k}', f'{what} has no argument {k!r}{suggest(k, valid)}; its arguments: '
                              f'{", ".join(valid) or "none"}.')
        p = params.get(k)
        if p is None or p.default is inspect.Parameter.empty or p.default is None:
            continue
        if v is None and _admits_none(p):  # a documented ``null`` (Optional[...] = value): the constructor decides
            continue
        d = p.default
        # Numbers are interchangeable (an int default often takes floats); bools and strings are not.
        is_num = isinstance(v, (int, float)) and not isinstance(v, bool)
        bad = ((isinstance(d, bool) and not isinstance(v, bool))
               or (isinstance(d, (int, float)) and not isinstance(d, bool) and not is_num)
               or (isinstance(d, str) and not isinstance(v, str)))
        if bad:
            kind = {bool: 'true or false', int: 'a number', float: 'a number', str: 'a string'}[type(d)]
            raise RecipeError(file, f'{key}.{k}', f'{v!r} is not allowed: {k} must be {kind} (default {d!r}).')
    for n, p in params.items():
        if n not in skip and p.default is inspect.Parameter.empty and n not in kwargs and p.kind != p.POSITIONAL_ONLY:
            raise RecipeError(file, f'{key}.{n}', f'{what} needs {n!r}; set it in the recipe or as an override '
                              f'({key}.{n}=...).')


def _lookup(file, key, name, table: dict, what: str):
    if not isinstance(name, str):
        raise RecipeError(file, f'{key}.name', f'{name!r} is not allowed: give the {what} name as a string; '
                          f'{what}s: {", ".join(sorted(table))}.')
    if name not in table:
        raise RecipeError(file, f'{key}.name', f'unknown {what} {name!r}{suggest(name, table)}; {what}s: '
                          f'{", ".join(sorted(table))}.')
    return table[name]


def _split_name(file, key, section: Any) -> tuple[Any, dict]:
    if not isinstance(section, dict):
        raise RecipeError(file, key, f'{section!r} is not allowed: {key} must be a mapping with a name, e.g. '
                          '{name: ..., <arguments>}.')
    if 'name' not in section:
        raise RecipeError(file, f'{key}.name', 'missing: say which one, e.g. name: ...')
    kwargs = dict(section)
    return kwargs.pop('name'), kwargs


# --------------------------------------------------------------------------------------------------- models, data
def _models() -> dict:
    from composer_sched.models import MODELS
    return MODELS


def _datasets() -> dict:
    from composer_sched.data import DATASETS
    return DATASETS



def model_builder(file, section: dict) -> tuple[Callable, dict]:
    """The model builder ``section`` names and its arguments, checked."""
    name, kwargs = _split_name(file, 'model', section)
    fn = _lookup(file, 'model', name, _models(), 'model')
    check_kwargs(file, 'model', fn, kwargs, f'model {name!r}')
    return fn, kwargs


def _with_defaults(fn: Callable, kwargs: dict) -> dict:
    out = {n: p.default for n, p in _params(fn).items() if p.default is not inspect.Parameter.empty}
    out.update(kwargs)
    return out


def check_model_fits_data(file, model: dict, data: dict) -> None:
    """The model and the data together: what the model accepts (``composer_sched.models.ACCEPTS``) against what the
    dataset's batches hold (``composer_sched.data.PROVIDES``), from the recipe alone (no data read).

    Raises:
        RecipeError: at the key to change (``data.context``, ``model.vocab_size``, ...).
    """
    from composer_sched.data import PROVIDES
    from composer_sched.models import ACCEPTS

    mfn, mkw = model_builder(file, model)
    dfn, dkw, _ = data_builder(file, data)
    accepts, provides = ACCEPTS.get(str(model.get('name'))), PROVIDES.get(str(data.get('name')))
    if accepts is None or provides is None:
        return
    for key, message in accepts(_with_defaults(mfn, mkw), provides(_with_defaults(dfn, dkw))):
        raise RecipeError(file, key, message)


def data_builder(file, section: dict) -> tuple[Callable, dict, dict]:
    """The dataset builder ``section`` names, its arguments and the dataloader arguments, checked."""
    name, kwargs = _split_name(file, 'data', section)
    fn = _lookup(file, 'data', name, _datasets(), 'dataset')
    loader = {k: kwargs.pop(k, d) for k, d in LOADER_KEYS.items()}
    for k in ('batch_size', 'eval_batch_size'):
        v = loader[k]
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise RecipeError(file, f'data.{k}', f'{v!r} is not allowed: {k} must be an integer >= 1.')
    if not isinstance(loader['num_workers'], int) or isinstance(loader['num_workers'], bool) \
            or loader['num_workers'] < 0:
        raise RecipeError(file, 'data.num_workers', f"{loader['num_workers']!r} is not allowed: num_workers must be "
                          'an integer >= 0.')
    if not isinstance(loader['drop_last'], bool):
        raise RecipeError(file, 'data.drop_last', f"{loader['drop_last']!r} is not allowed: drop_last must be true "
                          'or false.')
    check_kwargs(file, 'data', fn, kwargs, f'dataset {name!r}')
    return fn, kwargs, loader


# --------------------------------------------------------------------------------------------------- optimizers
def _optimizers() -> dict:
    import torch
    from composer.optim import DecoupledAdamW, DecoupledSGDW

    return {'sgd': torch.optim.SGD, 'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW,
            'decoupled_sgdw': DecoupledSGDW, 'decoupled_adamw': DecoupledAdamW}



def build_optimizer(file, section: dict, params=None):
    """The optimizer ``section`` names over ``params`` (``None``: a dummy parameter, to check the arguments).

    Raises:
        RecipeError: unknown name or argument, a missing ``lr``, or a value the optimizer rejects.
    """
    import torch

    name, kwargs = _split_name(file, 'optimizer', section)
    cls = _lookup(file, 'optimizer', name, _optimizers(), 'optimizer')
    if 'lr' not in kwargs:
        raise RecipeError(file, 'optimizer.lr', 'missing: the peak learning rate (the schedules multiply it).')
    check_kwargs(file, 'optimizer', cls, kwargs, f'optimizer {name!r}', skip=('params',))
    lr = kwargs['lr']
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0 or lr == float('inf'):
        raise RecipeError(file, 'optimizer.lr', f'{lr!r} is not allowed: lr must be a finite number > 0.')
    if params is None:
        params = [torch.nn.Parameter(torch.zeros(1))]
    try:
        return cls(params, **kwargs)
    except (ValueError, TypeError) as e:
        k = key_of_message(str(e), kwargs) or ('lr' if 'learning rate' in str(e) else None)
        raise RecipeError(file, f'optimizer.{k}' if k else 'optimizer', str(e)) from None


# --------------------------------------------------------------------------------------------------- schedulers
def _snake(name: str) -> str:
    return re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()


def composer_schedulers() -> dict[str, type]:
    """Composer's built-in schedulers by snake_case name (``cosine_annealing_with_warmup``, ...)."""
    import composer.optim.scheduler as cs

    return {_snake(n[:-len('Scheduler')]): getattr(cs, n) for n in cs.__all__
            if n.endswith('Scheduler') and n != 'ComposerScheduler'}


def _merged_names(composer_names, our_names) -> dict[str, str]:
    """Name -> origin: Composer's names (also as ``composer.<name>``), then ours, which win a plain name."""
    names = {f'{COMPOSER_PREFIX}{n}': 'composer' for n in composer_names}
    names.update(dict.fromkeys(composer_names, 'composer'))
    names.update(dict.fromkeys(our_names, 'composer_sched'))
    return names


def scheduler_names() -> dict[str, str]:
    """Every scheduler name a recipe may use -> where it comes from (ours win; ``composer.<name>`` forces
    Composer's; ``hf/<name>`` and ``timm/<name>`` are transformers' and timm's names over our methods)."""
    from composer_sched.schedules.peers import PEERS
    from composer_sched.schedules.registry import method_names

    names = _merged_names(composer_schedulers(), method_names())
    names.update({key: 'peer' for key, p in PEERS.items() if not p.refused})
    return names


def build_scheduler(file, key: str, item: Any, base_lr: Optional[float] = None):
    """The Composer scheduler ``item`` (``{name: ..., <parameters>}``) describes, checked by constructing it.
    ``base_lr`` (the optimizer's ``lr``) turns a peer's absolute LRs (``lr_end``, ``min_lr``) into multipliers."""
    from composer_sched.adapters.composer import ComposerScheduler
    from composer_sched.schedules.peers import PEERS, both_suggestions, find_peer

    name, params = _split_name(file, key, item)
    names = scheduler_names()
    if isinstance(name, str) and name not in names:
        try:  # a bare peer name only one vocabulary has ('cosine_with_min_lr'), or a refused one (with its reason)
            peer = find_peer(name, params) or (PEERS.get(name) if '/' in name else None)
        except ValueError as e:
            raise RecipeError(file, f'{key}.name', str(e)) from None
        if peer is not None and peer.refused:
            raise RecipeError(file, f'{key}.name', f'{peer.key} is not allowed: {peer.refused}.')
        if peer is not None:
            name = peer.key
    if not isinstance(name, str) or name not in names:
        ours = [n for n, o in names.items() if o != 'peer']
        raise RecipeError(file, f'{key}.name', f'unknown scheduler {name!r}'
                          f'{both_suggestions(suggest(str(name), ours), str(name))}; ours: '
                          f'{", ".join(n for n, o in names.items() if o == "composer_sched")}; Composer\'s: '
                          f'{", ".join(n for n in names if n.startswith(COMPOSER_PREFIX))}; transformers\' and '
                          "timm's: hf/<name>, timm/<name> (composer-sched list --hf, --timm).")
    try:
        if names[name] == 'peer':
            return ComposerScheduler(name, base_lr=base_lr, **params)
        if names[name] == 'composer_sched':
            return ComposerScheduler(name, **params)
        cls = composer_schedulers()[name.removeprefix(COMPOSER_PREFIX)]
        check_kwargs(file, key, cls, params, f'scheduler {name!r}')
        _check_composer_times(file, key, cls, params)
        return cls(**params)
    except RecipeError:
        raise
    except (ValueError, TypeError, ArithmeticError) as e:
        k = key_of_message(str(e), params) or key_of_message(str(e), _method_params(name))
        raise RecipeError(file, f'{key}.{k}' if k else key, str(e)) from None


#: Composer scheduler arguments that divide time: 0 would fail on the first batch (ZeroDivisionError)
_DIVISORS = ('step_size', 'decay_period', 't_0')


def _time_hint(tp: Any) -> Optional[str]:
    # 'one' for Union[str, Time], 'list' for list[Union[str, Time]], else None.
    import typing

    from composer.core import Time

    if typing.get_origin(tp) is typing.Union and Time in typing.get_args(tp):
        return 'one'
    if typing.get_origin(tp) is list and typing.get_args(tp) and _time_hint(typing.get_args(tp)[0]) == 'one':
        return 'list'
    return None


def _check_composer_times(file, key: str, cls: type[Any], params: dict) -> None:
    """Composer's schedulers take durations unchecked and fail only when called mid-run: check them here.

    Raises:
        RecipeError: at ``key.<argument>``: not a time string (or a list of them), negative, or 0 where it divides.
    """
    import math
    import typing

    from composer.core import Time

    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable annotations: the probe at load time still runs the scheduler
        return
    for k, v in params.items():
        kind = _time_hint(hints.get(k))
        if kind is None:
            continue
        items = v if kind == 'list' else [v]
        example = "['10ba', '20ba']" if kind == 'list' else "'10ba'"
        what = 'a list of Composer time strings' if kind == 'list' else 'a Composer time string'
        if kind == 'list' and not isinstance(v, list):
            raise RecipeError(file, f'{key}.{k}', f'{v!r} is not allowed: {k} must be {what} (e.g. {example}).')
        for item in items:
            try:
                t = Time.from_timestring(item) if isinstance(item, str) else None
            except (ValueError, TypeError, KeyError, OverflowError):
                t = None
            if t is None or not math.isfinite(float(t.value)) or t.value < 0:
                raise RecipeError(file, f'{key}.{k}', f'{v!r} is not allowed: {k} must be {what} >= 0 (e.g. '
                                  f'{example}).')
            if k in _DIVISORS and t.value == 0:
                raise RecipeError(file, f'{key}.{k}', f'{v!r} is not allowed: {k} must be > 0 (the scheduler divides '
                                  'by it).')


def _method_params(name: str) -> list[str]:
    from composer_sched.adapters.spec import WARMUP_PARAMS
    from composer_sched.schedules.registry import get_method
    try:
        return [p.name for p in get_method(name).params + WARMUP_PARAMS]
    except ValueError:
        return []


# --------------------------------------------------------------------------------------------------- algorithms
def composer_algorithms() -> dict[str, type]:
    """Composer's own algorithms by their folder name in ``composer.algorithms`` (``blurpool``, ``ema``, ...)."""
    import composer.algorithms as ca
    from composer.core import Algorithm

    out: dict[str, type] = {}
    for n in ca.__all__:
        cls = getattr(ca, n)
        if inspect.isclass(cls) and issubclass(cls, Algorithm):
            out.setdefault(cls.__module__.split('.')[2], cls)
    return out


def algorithm_names() -> dict[str, str]:
    """Every algorithm name a recipe may use -> where it comes from (ours win; ``composer.<name>`` forces
    Composer's)."""
    from composer_sched.algorithms import algorithm_names as ours

    return _merged_names(composer_algorithms(), ours())


def algorithm_class(name: str) -> type:
    """The Algorithm class behind a recipe name (``KeyError`` when unknown; an old name warns, naming the new)."""
    from composer_sched.algorithms import DEPRECATED_ALGORITHMS, get_algorithm

    if name in DEPRECATED_ALGORITHMS:
        return get_algorithm(name)
    origin = algorithm_names()[name]
    return get_algorithm(name) if origin == 'composer_sched' else composer_algorithms()[name.removeprefix(
        COMPOSER_PREFIX)]


def build_algorithm(file, name: Any, kwargs: dict):
    """The algorithm ``algorithms.<name>`` describes, checked by its constructor (whose errors are re-raised with
    the key path)."""
    from composer_sched.algorithms import DEPRECATED_ALGORITHMS

    key = f'algorithms.{name}'
    names = algorithm_names()
    if not isinstance(name, str) or (name not in names and name not in DEPRECATED_ALGORITHMS):
        raise RecipeError(file, key, f'unknown algorithm {name!r}{suggest(str(name), names)}; ours: '
                          f'{", ".join(n for n, o in names.items() if o == "composer_sched") or "none yet"}; '
                          f'Composer\'s: {", ".join(n for n, o in names.items() if o == "composer" and "." not in n)}.')
    cls = algorithm_class(name)
    check_kwargs(file, key, cls, kwargs, f'algorithm {name!r}')
    try:
        return cls(**kwargs)
    except (ValueError, TypeError, ArithmeticError) as e:
        k = key_of_message(str(e), kwargs) or key_of_message(str(e), _params(cls))
        raise RecipeError(file, f'{key}.{k}' if k else key, str(e)) from None


# --------------------------------------------------------------------------------------------------- loggers
def _logger_classes() -> dict[str, tuple[Callable, Optional[str]]]:
    from composer.loggers import FileLogger, MLFlowLogger, TensorboardLogger

    return {'file': (FileLogger, None), 'tensorboard': (TensorboardLogger, 'tensorboard'),
            'mlflow': (MLFlowLogger, 'mlflow')}


def build_loggers(file, loggers, construct: bool = True) -> list:
    """Composer loggers from the ``loggers`` section (console is a Trainer argument, not a logger here).

    Raises:
        RecipeError: an unknown argument, or TensorBoard/MLflow requested but not installed.
    """
    out = []
    console = loggers.console
    if console is not None:
        bad = set(console) - {'log_interval'}
        if bad:
            k = sorted(bad)[0]
            raise RecipeError(file, f'loggers.console.{k}', f'unknown key{suggest(k, ["log_interval"])}; valid '
                              'keys: log_interval.')
    for kind, (cls, module) in _logger_classes().items():
        kwargs = getattr(loggers, kind)
        if kwargs is None:
            continue
        if module and importlib.util.find_spec(module) is None:
            raise RecipeError(file, f'loggers.{kind}', f'{module} is not installed: pip install {module}, or set '
                              f'loggers.{kind} to null.')
        check_kwargs(file, f'loggers.{kind}', cls, dict(kwargs), f'logger {kind!r}')
        if construct:
            from omegaconf import OmegaConf

            # plain, writable containers: Composer's loggers write into what they are given (MLFlowLogger: tags)
            plain = OmegaConf.to_container(OmegaConf.create(dict(kwargs)), resolve=True)
            try:
                out.append(cls(**plain))  # type: ignore[arg-type]
            except (ValueError, TypeError) as e:
                raise RecipeError(file, f'loggers.{kind}', str(e)) from None
    return out
