"""Adapters: the only code that knows Composer ``Time`` units, ``max_duration``, the scale-schedule ratio or an
optimizer. One adapter for Composer schedulers, one for PyTorch ``LRScheduler``s; both share the duration rules
of :mod:`composer_sched.adapters.durations`."""
