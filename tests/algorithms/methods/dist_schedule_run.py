"""A scenario of the session's 2-rank launch (tests/launch.py): a composed schedule on the digits; each rank writes
the LRs it applied."""


def main(out_dir: str) -> None:
    from two_rank_digits import record_lrs

    from composer_sched import SGDR, Cooldown, Warmup

    algos = [Cooldown(t_start='0.6dur', shape='sqrt'), SGDR(t_0='5ba', t_mult=2.0), Warmup(t_warmup='4ba')]
    record_lrs(out_dir, max_duration='2ep', train_subset_num_batches=10, algorithms=algos, seed=5)
