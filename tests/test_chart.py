"""The PNG line charts drawn without matplotlib (composer_sched/chart.py): the file is a valid PNG (decoded here with
zlib and struct, and by matplotlib's own reader), of the size asked, and the curves sit where their values say."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from composer_sched import chart
from composer_sched.chart import COLORS, Panel, Series, encode_png, render
from composer_sched.cli import main


def _read_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB PNG by the specification (chunks, CRCs, the five row filters): ``(h, w, 3)`` uint8."""
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack('>I', data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xffffffff, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b'IHDR' and chunks[-1] == (b'IEND', b'')
    w, h, depth, colour, comp, filt, interlace = struct.unpack('>IIBBBBB', chunks[0][1])
    assert (depth, colour, comp, filt, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b''.join(body for kind, body in chunks if kind == b'IDAT'))
    assert len(raw) == h * (1 + 3 * w)
    out = np.zeros((h, 3 * w), np.int64)
    for y in range(h):
        ftype, line = raw[y * (1 + 3 * w)], np.frombuffer(raw, np.uint8, 3 * w, y * (1 + 3 * w) + 1).astype(np.int64)
        prior = out[y - 1] if y else np.zeros(3 * w, np.int64)
        if ftype == 0:
            out[y] = line
        elif ftype == 2:
            out[y] = (line + prior) % 256
        else:  # Sub, Average, Paeth: byte by byte
            for x in range(3 * w):
                a = out[y, x - 3] if x >= 3 else 0
                b, c = prior[x], (prior[x - 3] if x >= 3 else 0)
                if ftype == 1:
                    pred = a
                elif ftype == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pred = min((abs(p - a), 0, a), (abs(p - b), 1, b), (abs(p - c), 2, c))[2]
                out[y, x] = (line[x] + pred) % 256
    return out.reshape(h, w, 3).astype(np.uint8)


def _rgb(color):
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], float)


def _curve_rows(image, color, columns):
    """Per column: the coverage-weighted mean row of the pixels tinted towards ``color`` (None: none there)."""
    img = image.astype(float)
    target = _rgb(color)
    out = []
    for c in columns:
        px = img[:, c]
        # the share of the line colour blended over white: px = 255 (1 - a) + target a
        a = ((255 - px) / np.maximum(255 - target, 1)).mean(axis=1)
        tinted = np.abs(px - (255 - (255 - target) * a[:, None])).max(axis=1) < 12  # the colour's hue, not grey ink
        weights = np.where(tinted & (a > 0.15), a, 0)
        out.append(None if weights.sum() == 0 else float((weights * (np.arange(len(px)) + 0.5)).sum() / weights.sum()))
    return out


def test_a_chart_is_a_valid_png_of_the_size_asked(tmp_path):
    panel = Panel([Series(np.linspace(0, 1, 50), label='ramp'), Series(np.ones(50) * 0.5, dashed=True)],
                  xlabel='batch', ylabel='LR multiplier', title='a title')
    image = render([panel], width=333, height=211)
    assert image.shape == (211, 333, 3) and image.dtype == np.uint8
    path = chart.write_png(tmp_path / 'sub' / 'x.png', image)
    data = (tmp_path / 'sub' / 'x.png').read_bytes()
    assert path == str(tmp_path / 'sub' / 'x.png')
    decoded = _read_png(data)
    assert np.array_equal(decoded, image)
    # an independent decoder (matplotlib's reader) sees the same pixels
    import matplotlib.image

    assert np.array_equal(np.round(matplotlib.image.imread(path)[..., :3] * 255).astype(np.uint8), image)
    assert len(data) < image.size / 4  # compressed: a flat chart is mostly runs
    with pytest.raises(ValueError, match='uint8'):
        encode_png(image.astype(float))


@pytest.mark.parametrize('log_y', [False, True])
def test_the_curve_sits_where_its_values_say(log_y):
    t = np.arange(400)
    values = 0.02 + 0.98 * (1 + np.cos(np.pi * t / 399)) / 2  # a cosine decay from 1 to 0.02
    panel = Panel([Series(values, label='cosine')], xlabel='batch', ylabel='lr', log_y=log_y)
    image = render([panel], width=640, height=360)
    left, top, bw, bh = panel.box
    ink = image.astype(int).sum(axis=2) < 3 * 100
    # the frame is drawn just outside the box the panel reports
    assert ink[top - 1, left:left + bw].all() and ink[top + bh, left:left + bw].all()
    assert ink[top:top + bh, left - 1].all() and ink[top:top + bh, left + bw].all()
    (xlo, xhi), (ylo, yhi) = panel.xlim, panel.ylim
    f = np.log10 if log_y else (lambda v: v)
    batches = [5, 100, 200, 300, 390]
    columns = [int(left + (b - xlo) / (xhi - xlo) * bw) for b in batches]
    rows = _curve_rows(image, COLORS[0], columns)
    for b, row, col in zip(batches, rows, columns):
        # the value at the column's centre (the line crosses the column between neighbouring batches)
        at = np.interp(xlo + (col + 0.5 - left) / bw * (xhi - xlo), t, values)
        expected = top + (f(yhi) - f(at)) / (f(yhi) - f(ylo)) * bh
        assert row is not None and abs(row - expected) < 1.5, (b, row, expected)
    # the limits hold the data with a margin, the data range padded by 5% (of the logarithms on a log axis)
    span = f(values.max()) - f(values.min())
    assert f(ylo) == pytest.approx(f(values.min()) - 0.05 * span) and f(yhi) == pytest.approx(
        f(values.max()) + 0.05 * span)


def test_a_one_batch_spike_among_many_stays_visible_and_gaps_stay_gaps():
    values = np.zeros(200_000)
    values[123_456] = 1.0  # more batches than columns: the column's highest value is drawn
    values[150_000:160_000] = np.nan  # not finite: no line there
    panel = Panel([Series(values)], ylim=(-0.1, 1.1))
    image = render([panel], width=500, height=300)
    left, top, bw, bh = panel.box
    (xlo, xhi) = panel.xlim
    spike_col = int(left + (123_456 - xlo) / (xhi - xlo) * bw)
    top_row = int(top + (1.1 - 1.0) / 1.2 * bh)
    window = image[top_row - 2:top_row + 3, spike_col - 2:spike_col + 3].astype(int)
    assert (np.abs(window - _rgb(COLORS[0])).sum(axis=2) < 60).any()  # the spike's top is drawn
    gap_col = int(left + (155_000 - xlo) / (xhi - xlo) * bw)
    zero_row = int(top + 1.1 / 1.2 * bh)
    assert _curve_rows(image, COLORS[0], [gap_col])[0] is None
    row = _curve_rows(image, COLORS[0], [gap_col - 30])[0]
    assert row is not None and abs(row - zero_row) < 2


def test_dashed_lines_have_gaps_and_solid_lines_none():
    panel = Panel([Series(np.full(100, 0.3), dashed=True), Series(np.full(100, 0.7))], ylim=(0, 1))
    image = render([panel], width=400, height=260)
    left, top, bw, bh = panel.box
    def drawn(color, value):
        row = int(top + (1 - value) * bh)
        strip = image[row - 1:row + 2, left + bw // 10:left + bw * 9 // 10].astype(int)
        return (np.abs(strip - _rgb(color)).sum(axis=2) < 90).any(axis=0)
    dashed, solid = drawn(COLORS[0], 0.3), drawn(COLORS[1], 0.7)
    assert solid.all()
    assert 0.4 < dashed.mean() < 0.8 and (np.diff(dashed.astype(int)) != 0).sum() >= 10


def test_bad_arguments_are_refused_with_their_names(tmp_path):
    from composer_sched.previewing import write_curves

    with pytest.raises(ValueError, match='path=.*must end in .png'):
        write_curves([('a', np.ones(3))], tmp_path / 'x.svg', xlabel='b', ylabel='l')
    with pytest.raises(ValueError, match="styles=.*'--'"):
        write_curves([('a', np.ones(3))], tmp_path / 'x.png', xlabel='b', ylabel='l', styles=[':'])
    with pytest.raises(ValueError, match='width='):
        render([Panel([Series([1, 2])])], width=50, height=200)
    with pytest.raises(ValueError, match='ylim='):
        render([Panel([Series([1, 2])], log_y=True, ylim=(0, 1))])
    with pytest.raises(ValueError, match='color='):
        Series([1, 2], color='blue')


def test_plot_on_the_command_line_draws_the_schedules_values(tmp_path, capsys):
    # composer-sched plot: a 720 x 400 PNG whose curve is the preview's values, on axes with 5% margins
    from composer_sched import WSDScheduler, preview

    assert main(['plot', 'wsd', 't_cooldown=0.5dur', 'alpha_f=0.2', '--max-duration', '200ba',
                 '-o', str(tmp_path / 'wsd')]) == 0
    assert f'wrote {tmp_path / "wsd.png"}' in capsys.readouterr().out
    image = _read_png((tmp_path / 'wsd.png').read_bytes())
    assert image.shape == (400, 720, 3)
    values = preview(WSDScheduler(t_cooldown='0.5dur', alpha_f=0.2), '200ba')
    ink = image.astype(int).sum(axis=2) < 3 * 100
    # the frame: the longest dark rows and columns
    rows, cols = np.flatnonzero(ink.sum(axis=1) > 0.6 * 720), np.flatnonzero(ink.sum(axis=0) > 0.5 * 400)
    top, bottom, left, right = rows.min() + 1, rows.max(), cols.min() + 1, cols.max()
    bh, bw = bottom - top, right - left
    span = values.max() - values.min()
    ylo, yhi = values.min() - 0.05 * span, values.max() + 0.05 * span
    xlo, xhi = -0.02 * 199, 199 * 1.02
    for batch in (20, 90, 130, 160, 190):
        col = int(left + (batch - xlo) / (xhi - xlo) * bw)
        at = np.interp(xlo + (col + 0.5 - left) / bw * (xhi - xlo), np.arange(200), values)
        row = _curve_rows(image, COLORS[0], [col])[0]
        assert row is not None and abs(row - (top + (yhi - at) / (yhi - ylo) * bh)) < 1.5, (batch, row)
