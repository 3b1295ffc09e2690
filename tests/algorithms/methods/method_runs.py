"""Real-training helpers for the schedule-algorithm tests: a tiny CNN on the bundled digits, and the LR (and
momentum) the optimizer actually applies at each step, read in an optimizer step pre-hook."""
from __future__ import annotations

import inspect

import torch
from composer.core import Callback

#: Example arguments of the algorithms that are not a registered method's setter (a setter's come from its method's
#: definition, ``get_method(name).example``); chosen so each moves the schedule within 33 batches.
MODIFIER_EXAMPLES = {
    'warmup': dict(t_warmup='7ba', alpha_warmup=0.05),
    'cooldown': dict(t_start='14ba', alpha_f=0.01, shape='sqrt'),
}
#: What a setter's example adds to its method's: a warm-up, so every setter's LR moves (the constant one too), and
#: one_cycle's own behaviour (momentum cycling), so its resume test covers it.
SETTER_EXTRAS = {'one_cycle': dict(cycle_momentum=True)}
SETTER_WARMUP = '3ba'


def example(name: str) -> dict:
    """The constructor arguments the tests give the algorithm ``name``."""
    from composer_sched.algorithms import get_algorithm
    from composer_sched.schedules.registry import get_method

    cls = get_algorithm(name)
    if getattr(cls, 'schedule_role', None) != 'setter':
        return dict(MODIFIER_EXAMPLES[name])
    return {**get_method(cls.method).example, 't_warmup': SETTER_WARMUP, **SETTER_EXTRAS.get(name, {})}


BATCH = 16
DL_LEN = 11  # train_subset_num_batches: 11 batches of 16 digits per epoch keeps each run short
torch.set_num_threads(1)  # tiny model on a shared CPU: threads only contend
BASE_LR = 0.1


def schedule_algorithm_names() -> list[str]:
    """The registry's schedule algorithms that set or modify a schedule."""
    from composer_sched.algorithms import algorithm_classes
    from composer_sched.algorithms.roles import ScheduleAlgorithm

    return [n for n, c in algorithm_classes().items()
            if isinstance(c, type) and issubclass(c, ScheduleAlgorithm) and c.schedule_role in ('setter', 'modifier')]


def make(name: str):
    from composer_sched.algorithms import get_algorithm
    return get_algorithm(name)(**example(name))


class _Arm(Callback):
    def __init__(self, run):
        self.run = run

    # Composer calls optimizer.step(closure) right after BATCH_START; SGD/Adam read the LR after the closure.
    def batch_start(self, state, logger):
        self.run._armed = True


class Run:
    """A Trainer on digits that records, at every optimizer step, each group's LR and momentum/beta1."""

    def __init__(self, algorithms=(), schedulers=None, max_duration='3ep', optimizer='sgd', seed=3, callbacks=(),
                 **kwargs):
        from composer import Trainer

        from composer_sched.data import digits_dataloaders
        from composer_sched.models import digits_cnn

        torch.manual_seed(seed)
        self.train_dl, _ = digits_dataloaders(batch_size=BATCH)
        self.model = digits_cnn(width=4)
        if optimizer == 'adam':
            self.opt = torch.optim.Adam(self.model.parameters(), lr=BASE_LR * 0.1)
        else:
            self.opt = torch.optim.SGD(self.model.parameters(), lr=BASE_LR, momentum=0.9)
        self.lrs: list[float] = []
        self.momenta: list[float] = []
        self.opt.register_step_pre_hook(self._record)
        self._armed = False
        scheds = schedulers(self.opt) if inspect.isfunction(schedulers) else schedulers  # torch: built on our opt
        self.trainer = Trainer(model=self.model, train_dataloader=self.train_dl, optimizers=self.opt,
                               schedulers=scheds, max_duration=max_duration, algorithms=list(algorithms),
                               callbacks=[_Arm(self), *callbacks], device='cpu', train_subset_num_batches=DL_LEN,
                               progress_bar=False, log_to_console=False, loggers=[], seed=seed,
                               **kwargs)

    def _record(self, opt, args, kwargs):
        # Only training steps: loading a checkpoint makes a zero-LR step to create the optimizer state.
        if not self._armed:
            return
        self._armed = False
        g = opt.param_groups[0]
        self.lrs.append(float(g['lr']))
        self.momenta.append(float(g['betas'][0] if 'betas' in g else g.get('momentum', 0.0)))

    def fit(self) -> 'Run':
        self.trainer.fit()
        return self

    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    @property
    def base_lr(self) -> float:
        return float(self.opt.param_groups[0]['initial_lr'])
