"""The byte-level text data of the tinylm recipes: a deterministic, disjoint split, (input, next-byte) blocks, and
any UTF-8 file through ``data.path``."""
import hashlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from composer_sched.recipes import RecipeError, load_recipe
from composer_sched.text_data import split_starts, stdlib_text, text_datasets


def _covered(starts, context, n):
    """Mask of the bytes the blocks read (inputs and targets: ``[s, s + context]``)."""
    mask = np.zeros(n, dtype=bool)
    for s in starts:
        mask[s:s + context + 1] = True
    return mask


@given(n=st.integers(200, 20_000), context=st.integers(1, 80), extra=st.integers(1, 3000),
       frac=st.floats(0.05, 0.5), seed=st.integers(0, 2**16))
def test_split_is_disjoint_within_bounds_and_deterministic(n, context, extra, frac, seed):
    segment = context + extra
    if -(-n // segment) < 2:
        with pytest.raises(ValueError, match='segment='):
            split_starts(n, context, frac, seed, segment)
        return
    train, val = split_starts(n, context, frac, seed, segment)
    again = split_starts(n, context, frac, seed, segment)
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    for starts in (train, val):
        assert np.all(starts >= 0) and np.all(starts + context + 1 <= n)
        # A block never crosses a segment's end, so the two splits never read the same byte.
        assert np.all(starts // segment == (starts + context) // segment)
    assert not np.any(_covered(train, context, n) & _covered(val, context, n))


def test_stdlib_split_differs_by_seed_and_holds_out_about_val_fraction():
    train, val = text_datasets(context=64)
    train2, val2 = text_datasets(context=64)
    assert np.array_equal(train.starts, train2.starts) and np.array_equal(val.starts, val2.starts)
    other_train, other_val = text_datasets(context=64, split_seed=1)
    assert not np.array_equal(val.starts, other_val.starts)
    assert 0.07 < len(val) / (len(train) + len(val)) < 0.13  # val_fraction 0.1 of whole 4 KiB pieces
    n = train.metadata['data/bytes']
    assert not np.any(_covered(train.starts, 64, n) & _covered(val.starts, 64, n))


def test_blocks_are_next_byte_pairs_of_the_text():
    data = stdlib_text().encode('utf-8')
    train, val = text_datasets(context=32)
    for ds in (train, val):
        for i in (0, len(ds) // 2, len(ds) - 1):
            x, y = ds[i]
            s = int(ds.starts[i])
            assert x.shape == y.shape == (32,)
            assert bytes(x.tolist()) == data[s:s + 32] and bytes(y.tolist()) == data[s + 1:s + 33]
    assert train.metadata['data/sha256'] == hashlib.sha256(data).hexdigest()


def test_data_path_takes_any_utf8_file(tmp_path):
    body = ''.join(f'Zeile {i}: grüße, 数据 and plain ASCII text.\n' for i in range(600))
    path = tmp_path / 'my.txt'
    path.write_text(body, encoding='utf-8')
    recipe = load_recipe('tinylm_wsd', [f'data.path={path}', 'data.segment=1024'])
    train, val = recipe.datasets()
    raw = body.encode('utf-8')
    assert train.metadata['data/sha256'] == hashlib.sha256(raw).hexdigest()
    assert train.metadata['data/bytes'] == len(raw) and train.metadata['data/source'] == str(path)
    x, y = val[0]
    s = int(val.starts[0])
    assert bytes(x.tolist()) == raw[s:s + 64] and bytes(y.tolist()) == raw[s + 1:s + 65]
    assert len(train) > 0 and len(val) > 0


def test_bad_data_paths_fail_at_load_time_naming_the_key(tmp_path):
    with pytest.raises(RecipeError, match=r'data\.path.*no such file'):
        load_recipe('tinylm_wsd', [f'data.path={tmp_path / "missing.txt"}'])
    latin1 = tmp_path / 'latin1.txt'
    latin1.write_bytes('caf\xe9 '.encode('latin-1') * 5000)
    with pytest.raises(RecipeError, match=r'data\.path.*not UTF-8'):
        load_recipe('tinylm_wsd', [f'data.path={latin1}'])
    short = tmp_path / 'short.txt'
    short.write_text('too short\n')
    with pytest.raises(RecipeError, match=r'^\S+: data\.path: .*fewer than two segments'):
        load_recipe('tinylm_wsd', [f'data.path={short}'])
