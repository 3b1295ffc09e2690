"""``python -m benchmarks [name ...]``: run every ``benchmarks/bench_*.py`` (or the named ones)."""
import importlib
import pkgutil
import sys
import time

import benchmarks


def main(argv):
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith('bench_'))
    chosen = [n for n in names if not argv or n in argv or n[len('bench_'):] in argv]
    unknown = [a for a in argv if a not in names and f'bench_{a}' not in names]
    if unknown:  # every name must match, not just one of them
        print(f'no benchmark named {", ".join(unknown)}; available: {", ".join(names)}', file=sys.stderr)
        return 2
    for name in chosen:
        print(f'\n=== {name} ===', flush=True)
        start = time.perf_counter()
        importlib.import_module(f'benchmarks.{name}').main()
        print(f'({name}: {time.perf_counter() - start:.1f} s)', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
