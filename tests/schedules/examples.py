"""Example arguments for registered methods whose parameters have no defaults (and a few non-default ones), shared
by the parametrized tests. A newly registered method with a required parameter fails the contract tests until it
gets an entry here."""

EXAMPLE_PARAMS = {
    'step': dict(step_size='12ba', gamma=0.5),
    'multi_step': dict(milestones=['0.3dur', '60ba'], gamma=0.5),
    'multi_factor': dict(step=['20ba', '0.7dur'], factor=0.5),
    'exponential': dict(gamma=0.8, decay_period='10ba'),
    'piecewise_constant': dict(milestones=['15ba', '0.6dur'], factors=[0.5, 0.2]),
    'triangular': dict(alpha_min=0.1, inc_fraction=0.3),
    'cyclical': dict(t_cycle='25ba', cycle_length_decay=1.5, cycle_magnitude_decay=0.8, alpha_min=0.05),
    'sgdr': dict(t_0='0.2dur', t_mult=2.0, magnitude_decay=0.7, alpha_f=0.01),
    'wsd': dict(t_cooldown='0.25dur', alpha_f=0.05, decay_type='sqrt'),
    'inverse_sqrt': dict(t_scale='20ba', t_cooldown='0.1dur'),
    'one_cycle': dict(t_cycle='0.6dur', t_cooldown='30ba'),
}
