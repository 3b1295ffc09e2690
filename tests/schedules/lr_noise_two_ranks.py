"""A scenario of the session's 2-rank launch (tests/launch.py): transformers' cosine_with_min_lr times lr_noise on
the digits; each rank writes the LRs it applied."""


def main(out_dir: str) -> None:
    from composer.utils import dist
    from two_rank_digits import record_lrs

    from composer_sched import ComposerScheduler, ProductScheduler

    sched = ProductScheduler(ComposerScheduler('hf/cosine_with_min_lr', min_lr_rate=0.1),
                             ComposerScheduler('lr_noise', t_start='2ba', pct=0.3, seed=7))
    # rank-dependent seeds elsewhere must not matter: the noise of step k is seeded by seed + k only
    record_lrs(out_dir, max_duration='12ba', schedulers=sched, seed=5 + dist.get_global_rank())
