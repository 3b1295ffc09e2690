"""The method layer's vocabulary: one name per concept, Composer's.

Every parameter of a registered method (and of the generic warm-up) is spelled as here, in the registry, the Composer
and PyTorch schedulers, the algorithms, recipes, the CLI and the docs; ``tests/schedules/test_vocabulary.py`` fails
on a name missing here or used with two kinds. The rules:

* durations are ``t_*`` (Composer time strings: ``'100ba'``, ``'2ep'``, ``'0.2dur'``), but for the names Composer's
  own schedulers already give them (``decay_period``, ``step_size``, ``milestones``) and MXNet's ``step``;
  ``t_mult`` is torch's ``T_mult``, a ratio of cycle lengths, not a duration;
* LR multipliers are ``alpha_*`` (``alpha_i`` initial, ``alpha_f`` final, ``alpha_min``/``alpha_max`` a cycle's
  bounds), never ``min_lr``/``final_lr``/``finish_lr``/``end``: those are the tutorial's core classes' own fields,
  kept as their documented faces and mapped to these names by each config's ``ALIASES``;
* what compounds per cycle or per decay: ``t_mult`` (lengths), ``magnitude_decay`` (peaks), ``gamma`` (Composer's
  and torch's decay factor), ``factor`` (MXNet's).

A name a release has retired is in :data:`RENAMED`, so an old recipe's key gets a "did you mean" naming the new one.
"""
from __future__ import annotations

from typing import Container

__all__ = ['GLOSSARY', 'RENAMED', 'renamed_hint']

#: name -> its one meaning in the method layer.
GLOSSARY: dict[str, str] = {
    # -- durations: where and how long (Composer time strings) ------------------------------------------------------
    't_max': 'where the shape ends on the run\'s clock (Composer\'s t_max; "1dur" is the end of training)',
    't_warmup': 'length of the generic warm-up ramp at the start of the run',
    't_cooldown': 'length of a cool-down (a final decay placed before t_max or after a cycle)',
    't_cycle': 'length of the single cycle of a one-cycle shape (triangle)',
    't_0': 'length of the first of repeating cycles (torch\'s T_0)',
    't_up': 'length of the rise of each cycle (torch\'s CyclicLR step_size_up)',
    't_down': 'length of the fall of each cycle (torch\'s CyclicLR step_size_down)',
    't_scale': 'time scale of a decay law (inverse_sqrt halves the multiplier at 3 t_scale)',
    'decay_period': 'period over which gamma applies once, continuously (Composer\'s ExponentialScheduler)',
    'step_size': 'period of a step decay (Composer\'s and torch\'s StepLR)',
    'milestones': 'times at which a decay or factor takes effect, on the run\'s clock',
    'step': 'times after which a factor takes effect, on the run\'s clock (MXNet\'s MultiFactorScheduler)',
    # -- multipliers of the optimizer's LR ---------------------------------------------------------------------------
    'alpha': 'a constant multiplier',
    'alpha_i': 'the multiplier at the start of the shape',
    'alpha_f': 'the multiplier the shape ends at (and holds after)',
    'alpha_min': 'the lower bound of a cycle: where a cycle starts and ends',
    'alpha_max': 'the upper bound (peak) of a cycle',
    'alpha_start': 'where one_cycle\'s triangle starts and returns to, before its cool-down to alpha_f',
    'alpha_warmup': 'the multiplier at the start of the warm-up ramp',
    # -- rates and modes ---------------------------------------------------------------------------------------------
    'gamma': 'the factor the multiplier is multiplied by per decay (Composer\'s and torch\'s gamma)',
    'factor': 'the factor the multiplier is multiplied by per passed step (MXNet\'s factor)',
    'factors': 'one factor per milestone (or one for all), each multiplying from its milestone on',
    'power': 'the exponent of a polynomial decay',
    't_mult': 'each cycle\'s length is the previous one\'s times this (torch\'s T_mult; 0: one cycle)',
    'magnitude_decay': 'each cycle\'s peak is the previous one\'s times this',
    'inc_fraction': 'the fraction of a triangular cycle spent rising',
    'mode': 'how a cycle\'s amplitude changes from one cycle to the next (torch\'s CyclicLR mode)',
    'shape': 'the shape of each cycle (triangular or cosine)',
    'decay_type': 'the shape of a cool-down (linear, 1-sqrt or cosine)',
    'warmup_type': 'the shape of the warm-up ramp (linear or exponential)',
    'scale_warmup': 'whether a scale-schedule ratio scales the warm-up too',
    'warmup_overlay': "whether the warm-up lays over the shape's start, which keeps the run's clock (timm's "
                      'warmup_prefix=False), instead of the shape starting when it ends',
    'decay_follows': 'whether a cool-down multiplies the decay it ends (timm\'s rsqrt) instead of falling from the '
                     'value where it starts',
    't_step': 'length of one step of a per-step draw (lr_noise: one noise value per t_step)',
    't_start': 'where a factor starts acting, on the run\'s clock (lr_noise: noise_range_t[0])',
    't_end': 'where a factor stops acting, on the run\'s clock (lr_noise: noise_range_t[1])',
    'noise_type': "the noise's distribution, normal or uniform (timm's noise_type)",
    'pct': "the noise's limit: a normal draw is redrawn until |n| < pct, a uniform one spans +-pct",
    'std': 'the standard deviation of a normal noise',
    'seed': 'the seed of a deterministic per-step draw (the seed of step k is seed + k)',
    'k_decay': "timm's k-decay: the shape is drawn at (t/t_max)^k_decay instead of t/t_max",
    'lb': "the tanh argument at the start of a tanh decay (timm's lb)",
    'ub': "the tanh argument at the end of a tanh decay (timm's ub)",
}

#: A retired method-layer name -> the name that replaced it (issue 14: ``cyclical`` adopted ``sgdr``'s knobs).
RENAMED: dict[str, str] = {
    't_cycle': 't_0',
    'cycle_length_decay': 't_mult',
    'cycle_magnitude_decay': 'magnitude_decay',
}


def renamed_hint(name: str, known: Container[str]) -> str:
    """A "did you mean" naming the replacement of a retired ``name`` when it is in ``known``, else ``''``.

    Example:
        >>> renamed_hint('cycle_length_decay', ['t_0', 't_mult'])
        " (did you mean 't_mult'? 'cycle_length_decay' was renamed)"
        >>> renamed_hint('t_cycle', ['t_cycle', 'inc_fraction'])
        ''
    """
    new = RENAMED.get(name)
    return f' (did you mean {new!r}? {name!r} was renamed)' if new is not None and new in known else ''
