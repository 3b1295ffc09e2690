"""The results database: one row per run, atomic writes, done rows final, failed rows retried."""
import sqlite3

import pytest

from composer_sched.sweep.store import ResultsStore


def _row(run_id, status='done', **kw):
    base = {'run_id': run_id, 'config_hash': 'h', 'ratio': 0.5, 'seed': 0, 'status': status, 'batches': 10,
            'metrics': {'acc': 0.5}}
    base.update(kw)
    return base


def test_record_and_read_back(tmp_path):
    store = ResultsStore(tmp_path / 'results.sqlite')
    store.record(_row('a', metrics={'acc': 0.75, 'loss': 0.3}))
    store.record(_row('b', status='failed', error='boom', ratio=1.0))
    rows = store.rows('h')
    assert [r['run_id'] for r in rows] == ['a', 'b']
    assert rows[0]['metrics'] == {'acc': 0.75, 'loss': 0.3}
    assert rows[1]['error'] == 'boom'
    assert store.done_ids('h') == {'a'}
    assert store.done_ids('other') == set()
    # A real sqlite file in WAL mode, readable by any sqlite client.
    conn = sqlite3.connect(tmp_path / 'results.sqlite')
    assert conn.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert conn.execute('SELECT COUNT(*) FROM runs').fetchone()[0] == 2


def test_failed_row_is_replaced_and_done_row_is_final(tmp_path):
    store = ResultsStore(tmp_path / 'r.sqlite')
    store.record(_row('a', status='failed', error='first'))
    store.record(_row('a', metrics={'acc': 0.9}))
    (row,) = store.rows('h')
    assert row['status'] == 'done' and row['metrics'] == {'acc': 0.9} and row['attempts'] == 2
    assert row['error'] is None
    # A late duplicate of a finished run (e.g. from a worker that outlived its sweep) changes nothing.
    store.record(_row('a', metrics={'acc': 0.1}))
    store.record(_row('a', status='failed', error='late'))
    (row,) = store.rows('h')
    assert row['metrics'] == {'acc': 0.9} and row['status'] == 'done' and row['attempts'] == 2


def test_second_store_on_same_file_sees_rows(tmp_path):
    ResultsStore(tmp_path / 'r.sqlite').record(_row('a'))
    assert ResultsStore(tmp_path / 'r.sqlite').done_ids('h') == {'a'}


def test_bad_rows_and_files_are_value_errors(tmp_path):
    store = ResultsStore(tmp_path / 'r.sqlite')
    with pytest.raises(ValueError, match="status='running' is not allowed"):
        store.record(_row('a', status='running'))
    with pytest.raises(ValueError, match="missing 'seed'"):
        store.record({'run_id': 'x', 'config_hash': 'h', 'ratio': 1.0, 'status': 'done'})
    assert store.rows() == []
    bad = tmp_path / 'not_a_db.sqlite'
    bad.write_text('this is not a database' * 100)
    with pytest.raises(ValueError, match='cannot be used'):
        ResultsStore(bad)


def test_csv_has_one_line_per_run_and_metric_columns(tmp_path):
    import csv
    store = ResultsStore(tmp_path / 'r.sqlite')
    store.record(_row('a', metrics={'acc': 0.25}))
    store.record(_row('b', ratio=1.0, metrics={'acc': 0.5}))
    path = store.write_csv(tmp_path / 'r.csv', store.rows('h'))
    with open(path) as f:
        lines = list(csv.DictReader(f))
    assert [(ln['run_id'], float(ln['acc'])) for ln in lines] == [('a', 0.25), ('b', 0.5)]
