"""Line charts written as PNG with numpy and zlib alone: the LR-per-batch figure (``composer-sched plot``,
:func:`composer_sched.plot_schedule`, a recipe's plot, the docs' method pages) and the convex-bound figure
(``composer-sched bound``). Importing matplotlib costs about 11 bare interpreter starts, more than the whole budget of
a command that should answer at once (issue 24), so these figures are drawn here; matplotlib keeps the figures only a
long-running command draws (the sweep's trade-off plot, the tracker's curves, the LR finder).

How a figure is drawn: each curve is stamped as a disc of the line width along the polyline on a grid ``SUPERSAMPLE``
times finer than the image, and the grid is averaged down, which antialiases the line; text uses the 5x9 bitmap font
below at an integer scale, so it stays crisp. Axes have "nice" ticks (steps 1, 2, 2.5 or 5 times a power of ten) with
numeric labels, a light grid, a legend in the corner the curves cross least, and optionally a log y axis. Curves with
more points than the axes have columns are reduced to each column's first, lowest, highest and last value, so a spike
of one batch stays visible.

Pure: numpy, zlib and the standard library (the lowest layer, beside ``schedules``).

Example:
    >>> import numpy as np
    >>> panel = Panel([Series(np.linspace(1, 0, 100), label='linear')], xlabel='batch', ylabel='LR multiplier')
    >>> image = render([panel], width=320, height=200, title='a decay')
    >>> image.shape, image.dtype.name
    ((200, 320, 3), 'uint8')
    >>> write_png('decay.png', image)
    'decay.png'
"""
from __future__ import annotations

import math
import os
import struct
import textwrap
import zlib
from typing import Any, Optional, Sequence, Union

import numpy as np

__all__ = ['Series', 'Panel', 'render', 'write_png', 'encode_png', 'line_chart', 'COLORS', 'SUPERSAMPLE']

_Arr = np.ndarray[Any, Any]  # (a numpy array of any shape and dtype)
ArrayLike = Union[Sequence[float], _Arr]

#: The line colours, in order (the familiar ten-colour cycle of plotting libraries: blue, orange, green, ...).
COLORS = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22',
          '#17becf')
#: Curves are drawn on a grid this many times finer than the image, then averaged down (antialiasing).
SUPERSAMPLE = 3
_INK = np.array([0.15, 0.15, 0.15])
_GRID = np.array([0.88, 0.88, 0.88])
_LINE_WIDTH = 1.6  # image pixels
_DASH = (6.0, 3.5)  # on, off, in image pixels

# ------------------------------------------------------------------------------------------------------ the font
# 5 columns x 9 rows per glyph: rows 0-6 above the baseline (capitals and digits), rows 7-8 for descenders. Each
# glyph is its rows, top first, '#' for ink; rows left out are blank.
_GLYPHS = {
    ' ': '',
    '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
    '"': '.#.#. .#.#. .#.#.',
    '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
    '$': '..#.. .#### #.#.. .###. ..#.# ####. ..#..',
    '%': '##..# ##..# ...#. ..#.. .#... #..## #..##',
    '&': '.##.. #..#. #.#.. .#... #.#.# #..#. .##.#',
    "'": '..#.. ..#.. .#...',
    '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
    ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
    '*': '..... ..#.. #.#.# .###. #.#.# ..#.. .....',
    '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
    ',': '..... ..... ..... ..... ..... .##.. ..#.. .#...',
    '-': '..... ..... ..... ##### ..... ..... .....',
    '.': '..... ..... ..... ..... ..... .##.. .##..',
    '/': '....# ....# ...#. ..#.. .#... #.... #....',
    '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
    '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
    '2': '.###. #...# ....# ...#. ..#.. .#... #####',
    '3': '##### ...#. ..#.. ...#. ....# #...# .###.',
    '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
    '5': '##### #.... ####. ....# ....# #...# .###.',
    '6': '..##. .#... #.... ####. #...# #...# .###.',
    '7': '##### ....# ...#. ..#.. .#... .#... .#...',
    '8': '.###. #...# #...# .###. #...# #...# .###.',
    '9': '.###. #...# #...# .#### ....# ...#. .##..',
    ':': '..... .##.. .##.. ..... .##.. .##.. .....',
    ';': '..... .##.. .##.. ..... .##.. ..#.. .#...',
    '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
    '=': '..... ..... ##### ..... ##### ..... .....',
    '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
    '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
    '@': '.###. #...# #.### #.#.# #.### #.... .####',
    'A': '.###. #...# #...# ##### #...# #...# #...#',
    'B': '####. #...# #...# ####. #...# #...# ####.',
    'C': '.###. #...# #.... #.... #.... #...# .###.',
    'D': '####. #...# #...# #...# #...# #...# ####.',
    'E': '##### #.... #.... ####. #.... #.... #####',
    'F': '##### #.... #.... ####. #.... #.... #....',
    'G': '.###. #...# #.... #.### #...# #...# .####',
    'H': '#...# #...# #...# ##### #...# #...# #...#',
    'I': '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
    'J': '..### ...#. ...#. ...#. ...#. #..#. .##..',
    'K': '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
    'L': '#.... #.... #.... #.... #.... #.... #####',
    'M': '#...# ##.## #.#.# #.#.# #...# #...# #...#',
    'N': '#...# #...# ##..# #.#.# #..## #...# #...#',
    'O': '.###. #...# #...# #...# #...# #...# .###.',
    'P': '####. #...# #...# ####. #.... #.... #....',
    'Q': '.###. #...# #...# #...# #.#.# #..#. .##.#',
    'R': '####. #...# #...# ####. #.#.. #..#. #...#',
    'S': '.#### #.... #.... .###. ....# ....# ####.',
    'T': '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
    'U': '#...# #...# #...# #...# #...# #...# .###.',
    'V': '#...# #...# #...# #...# #...# .#.#. ..#..',
    'W': '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
    'X': '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
    'Y': '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
    'Z': '##### ....# ...#. ..#.. .#... #.... #####',
    '[': '.###. .#... .#... .#... .#... .#... .###.',
    '\\': '#.... #.... .#... ..#.. ...#. ....# ....#',
    ']': '.###. ...#. ...#. ...#. ...#. ...#. .###.',
    '^': '..#.. .#.#. #...#',
    '_': '..... ..... ..... ..... ..... ..... ..... #####',
    '`': '.#... ..#..',
    'a': '..... ..... .###. ....# .#### #...# .####',
    'b': '#.... #.... ####. #...# #...# #...# ####.',
    'c': '..... ..... .###. #.... #.... #...# .###.',
    'd': '....# ....# .#### #...# #...# #...# .####',
    'e': '..... ..... .###. #...# ##### #.... .###.',
    'f': '..##. .#..# .#... ###.. .#... .#... .#...',
    'g': '..... ..... .#### #...# #...# #...# .#### ....# .###.',
    'h': '#.... #.... #.##. ##..# #...# #...# #...#',
    'i': '..#.. ..... .##.. ..#.. ..#.. ..#.. .###.',
    'j': '...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..',
    'k': '#.... #.... #..#. #.#.. ##... #.#.. #..#.',
    'l': '.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
    'm': '..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#',
    'n': '..... ..... #.##. ##..# #...# #...# #...#',
    'o': '..... ..... .###. #...# #...# #...# .###.',
    'p': '..... ..... ####. #...# #...# #...# ####. #.... #....',
    'q': '..... ..... .#### #...# #...# #...# .#### ....# ....#',
    'r': '..... ..... #.##. ##..# #.... #.... #....',
    's': '..... ..... .#### #.... .###. ....# ####.',
    't': '.#... .#... ###.. .#... .#... .#..# ..##.',
    'u': '..... ..... #...# #...# #...# #..## .##.#',
    'v': '..... ..... #...# #...# #...# .#.#. ..#..',
    'w': '..... ..... #...# #...# #.#.# #.#.# .#.#.',
    'x': '..... ..... #...# .#.#. ..#.. .#.#. #...#',
    'y': '..... ..... #...# #...# #...# #...# .#### ....# .###.',
    'z': '..... ..... ##### ...#. ..#.. .#... #####',
    '{': '...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.',
    '|': '..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
    '}': '.#... ..#.. ..#.. ...#. ..#.. ..#.. .#...',
    '~': '..... ..... .#... #.#.# ...#.',
}
_GW, _GH, _ADVANCE = 5, 9, 6  # glyph width and height, advance per character (one column of space)
_FONT: dict[str, _Arr] = {}


def _glyph(ch: str) -> _Arr:
    if not _FONT:
        for c, rows in _GLYPHS.items():
            bits = np.zeros((_GH, _GW), bool)
            for r, row in enumerate(rows.split()):
                bits[r] = [b == '#' for b in row]
            _FONT[c] = bits
    return _FONT.get(ch, _FONT['?'])


def _text_bitmap(text: str, scale: int) -> _Arr:
    """``text`` in the bitmap font, ``scale`` image pixels per font pixel: a boolean array (rows, columns)."""
    out = np.zeros((_GH, max(len(text) * _ADVANCE - 1, 1)), bool)
    for i, ch in enumerate(text):
        out[:, i * _ADVANCE:i * _ADVANCE + _GW] = _glyph(ch)
    return out.repeat(scale, 0).repeat(scale, 1) if scale > 1 else out


def text_width(text: str, scale: int) -> int:
    """Width in image pixels of ``text`` drawn at ``scale``."""
    return max(len(text) * _ADVANCE - 1, 1) * scale


# ----------------------------------------------------------------------------------------------------- the figure
class Series:
    """One curve: ``y`` against ``x`` (default ``0, 1, ..., len(y) - 1``); non-finite values leave a gap.

    Args:
        y: the values.
        x: their abscissae, the same length as ``y`` (default: the index).
        label: legend text (``None``: not in the legend).
        color: ``'#rrggbb'`` (default: the next of :data:`COLORS` in its panel).
        dashed: a dashed line instead of a solid one.

    Raises:
        ValueError: ``x`` and ``y`` of different lengths, or a colour that is not ``'#rrggbb'``.
    """

    def __init__(self, y: ArrayLike, x: Optional[ArrayLike] = None, label: Optional[str] = None,
                 color: Optional[str] = None, dashed: bool = False) -> None:
        self.y = np.asarray(y, dtype=float).ravel()
        self.x = np.arange(len(self.y), dtype=float) if x is None else np.asarray(x, dtype=float).ravel()
        if self.x.shape != self.y.shape:
            raise ValueError(f'x has {self.x.size} values and y {self.y.size}: they must be as many.')
        if color is not None and not (isinstance(color, str) and len(color) == 7 and color[0] == '#'
                                      and all(c in '0123456789abcdefABCDEF' for c in color[1:])):
            raise ValueError(f"color={color!r} is not allowed: write '#rrggbb'.")
        self.label, self.color, self.dashed = label, color, bool(dashed)


class Panel:
    """One set of axes: its curves, axis labels, title and scales.

    Args:
        series: the curves (:class:`Series`), drawn in order.
        xlabel, ylabel, title: texts ('' for none).
        log_y: a logarithmic y axis (only positive values are drawn).
        ylim: ``(low, high)`` of the y axis (default: the data's range plus 5% each side).
        legend_scale: font scale of the legend (default: 2, or 1 when that is too wide for the axes).

    After :func:`render`, ``box`` holds the axes' inner rectangle in image pixels, ``(left, top, width, height)``,
    and ``xlim`` and ``ylim`` the data ranges its edges show: a value :math:`y` lies at row
    :math:`top + height\\,(y_{hi} - y)/(y_{hi} - y_{lo})` (of the logarithms on a log axis).
    """

    def __init__(self, series: Sequence[Series], xlabel: str = '', ylabel: str = '', title: str = '',
                 log_y: bool = False, ylim: Optional[tuple[float, float]] = None,
                 legend_scale: Optional[int] = None) -> None:
        self.series, self.xlabel, self.ylabel, self.title = list(series), xlabel, ylabel, title
        self.log_y, self.ylim, self.legend_scale = bool(log_y), ylim, legend_scale
        self.xlim: tuple[float, float] = (0.0, 1.0)
        self.box: tuple[int, int, int, int] = (0, 0, 0, 0)


def _rgb(color: str) -> _Arr:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * power >= raw * (1 - 1e-9):
            return m * power
    return 10.0 * power


def _linear_ticks(lo: float, hi: float, target: int) -> list[float]:
    step = _nice_step(hi - lo, target)
    first = math.ceil(lo / step - 1e-9)
    ticks = [(first + k) * step for k in range(int(math.floor(hi / step + 1e-9)) - first + 1)]
    return [0.0 if abs(t) < step * 1e-9 else t for t in ticks]


def _tick_label(value: float, step: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        mantissa, exponent = f'{value:.3g}'.split('e') if 'e' in f'{value:.3g}' else (f'{value:.3g}', '0')
        return f'{mantissa}e{int(exponent)}' if exponent != '0' else mantissa
    decimals = len(f'{step:.12f}'.rstrip('0').split('.')[1])  # as many as the step has: 0.25 -> 2, 2.5 -> 1
    return f'{value:.{decimals}f}'


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Decades in ``[lo, hi]`` (base 10 logarithms); with fewer than three, also 2x and 5x a decade."""
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 3:
        stride = max(1, math.ceil(len(decades) / 8))
        return [float(d) for d in decades[::stride]]
    out = [math.log10(m) + d for d in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in (1, 2, 5)]
    return [v for v in out if lo - 1e-9 <= v <= hi + 1e-9]


def _limits(values: list[_Arr], pad: float) -> tuple[float, float]:
    finite = [v[np.isfinite(v)] for v in values]
    finite = [v for v in finite if v.size]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(float(v.min()) for v in finite), max(float(v.max()) for v in finite)
    if hi == lo:
        half = abs(lo) * 0.05 or 0.05
        return lo - half, hi + half
    return lo - pad * (hi - lo), hi + pad * (hi - lo)


def _decimate(x: _Arr, y: _Arr, cols: int, xlo: float, xhi: float) -> tuple[_Arr, _Arr]:
    """At most four points per column of the axes (first, lowest, highest, last, in their order): the same picture
    as every point, at a cost bounded by the image width."""
    if x.size <= 4 * cols:
        return x, y
    col = np.clip(((x - xlo) / (xhi - xlo) * cols).astype(np.int64), -1, cols)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    ends = np.r_[starts[1:], x.size] - 1
    idx = np.arange(x.size)
    amin = np.minimum.reduceat(np.where(np.isnan(y), np.inf, y), starts)  # a gap (NaN) is neither
    amax = np.maximum.reduceat(np.where(np.isnan(y), -np.inf, y), starts)
    # the first index reaching each group's minimum and maximum
    group = np.repeat(np.arange(starts.size), ends - starts + 1)
    big = x.size + 1
    imin = np.minimum.reduceat(np.where(y == amin[group], idx, big), starts)
    imax = np.minimum.reduceat(np.where(y == amax[group], idx, big), starts)
    keep = np.unique(np.concatenate([starts, ends, imin[imin < big], imax[imax < big]]))
    return x[keep], y[keep]


def _clip_segments(p0: _Arr, p1: _Arr, w: float, h: float) -> tuple[_Arr, _Arr]:
    """The parts of segments ``p0 -> p1`` (points as (column, row) rows) inside ``[0, w] x [0, h]``
    (Liang-Barsky); segments wholly outside are dropped."""
    d = p1 - p0
    t0: _Arr = np.zeros(len(d))
    t1: _Arr = np.ones(len(d))
    inside = np.ones(len(d), bool)
    for p, q in ((-d[:, 0], p0[:, 0]), (d[:, 0], w - p0[:, 0]), (-d[:, 1], p0[:, 1]), (d[:, 1], h - p0[:, 1])):
        parallel = p == 0
        inside &= ~(parallel & (q < 0))
        with np.errstate(divide='ignore', invalid='ignore'):
            r = np.where(parallel, 0.0, q / np.where(parallel, 1.0, p))
        t0 = np.where(~parallel & (p < 0), np.maximum(t0, r), t0)
        t1 = np.where(~parallel & (p > 0), np.minimum(t1, r), t1)
    inside &= t0 <= t1
    return (p0 + t0[:, None] * d)[inside], (p0 + t1[:, None] * d)[inside]


def _stroke(mask: _Arr, pts: _Arr, radius: float, dashed: bool) -> None:
    """Stamp discs of ``radius`` along the polyline ``pts`` ((column, row) in mask pixels) into ``mask``."""
    h, w = mask.shape
    finite: _Arr = np.all(np.isfinite(pts), axis=1)
    # the segments between consecutive finite points, clipped to the mask (with room for the line's width)
    ok = finite[:-1] & finite[1:]
    a, b = pts[:-1][ok], pts[1:][ok]
    lone = finite & ~np.r_[False, ok] & ~np.r_[ok, False]  # a finite point between gaps: a dot
    a = np.concatenate([a, pts[lone]])
    b = np.concatenate([b, pts[lone]])
    a, b = a + radius, b + radius
    a, b = _clip_segments(a, b, w + 2 * radius, h + 2 * radius)
    a, b = a - radius, b - radius
    if not len(a):
        return
    lengths = np.hypot(*(b - a).T)
    steps = np.maximum(np.ceil(lengths).astype(np.int64), 1)  # one sample per fine pixel along the line
    seg = np.repeat(np.arange(len(a)), steps + 1)
    frac = np.arange(seg.size) - np.repeat(np.cumsum(steps + 1) - (steps + 1), steps + 1)
    t = frac / np.repeat(steps, steps + 1)
    samples = a[seg] + t[:, None] * (b - a)[seg]
    if dashed:
        along = (np.cumsum(np.r_[0.0, lengths]))[seg] + t * lengths[seg]
        period = (_DASH[0] + _DASH[1]) * SUPERSAMPLE
        samples = samples[(along % period) < _DASH[0] * SUPERSAMPLE]
    cols = np.floor(samples[:, 0]).astype(np.int64)
    rows = np.floor(samples[:, 1]).astype(np.int64)
    inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    if not inside.any():
        return
    # the centre line, then widened by the disc: one shifted OR per disc offset, whatever the line's length
    r = int(math.ceil(radius))
    r0, r1 = max(int(rows[inside].min()) - r, 0), min(int(rows[inside].max()) + r + 1, h)
    c0, c1 = max(int(cols[inside].min()) - r, 0), min(int(cols[inside].max()) + r + 1, w)
    centre = np.zeros((r1 - r0, c1 - c0), bool)
    centre[rows[inside] - r0, cols[inside] - c0] = True
    out = mask[r0:r1, c0:c1]
    hh, ww = centre.shape
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx * dx + dy * dy <= radius * radius and abs(dy) < hh and abs(dx) < ww:
                out[max(dy, 0):hh + min(dy, 0), max(dx, 0):ww + min(dx, 0)] |= \
                    centre[max(-dy, 0):hh + min(-dy, 0), max(-dx, 0):ww + min(-dx, 0)]


def _downsample(mask: _Arr, s: int) -> _Arr:
    """The fraction of each ``s`` x ``s`` block of ``mask`` that is set: a pixel's coverage by the line."""
    bits = mask.view(np.uint8)
    total = np.zeros((mask.shape[0] // s, mask.shape[1] // s), np.uint8)
    for i in range(s):
        for j in range(s):
            total += bits[i::s, j::s]
    return total / float(s * s)


class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.rgb = np.ones((height, width, 3), np.float32)

    def fill(self, left: int, top: int, width: int, height: int, color: _Arr, alpha: float = 1.0) -> None:
        h, w, _ = self.rgb.shape
        r0, r1, c0, c1 = max(top, 0), min(top + height, h), max(left, 0), min(left + width, w)
        if r0 < r1 and c0 < c1:
            self.rgb[r0:r1, c0:c1] = self.rgb[r0:r1, c0:c1] * (1 - alpha) + color * alpha

    def blend(self, left: int, top: int, alpha: _Arr, color: _Arr) -> None:
        h, w, _ = self.rgb.shape
        ah, aw = alpha.shape
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(top + ah, h), min(left + aw, w)
        if r0 >= r1 or c0 >= c1:
            return
        a = alpha[r0 - top:r1 - top, c0 - left:c1 - left]
        used_rows, used_cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
        if not used_rows.size:
            return
        a = a[used_rows[0]:used_rows[-1] + 1, used_cols[0]:used_cols[-1] + 1, None]
        r0, c0 = r0 + used_rows[0], c0 + used_cols[0]
        r1, c1 = r0 + a.shape[0], c0 + a.shape[1]
        self.rgb[r0:r1, c0:c1] = self.rgb[r0:r1, c0:c1] * (1 - a) + color * a

    def text(self, text: str, x: float, y: float, scale: int, anchor: str = 'lt', color: _Arr = _INK,
             vertical: bool = False) -> None:
        """Draw ``text`` with its ``anchor`` (horizontal l/c/r, vertical t/m/b of the capitals) at (x, y)."""
        bits = _text_bitmap(text, scale)
        cap = 7 * scale  # the capitals' height: vertical anchors ignore descenders
        w = bits.shape[1]
        along, across = {'l': 0, 'c': w / 2, 'r': w}[anchor[0]], {'t': 0, 'm': cap / 2, 'b': cap}[anchor[1]]
        left, top = x - along, y - across
        if vertical:  # rotated a quarter turn anticlockwise, anchored the same way on the rotated box
            bits = np.rot90(bits)
            left, top = x - across, y - (w - along)
        self.blend(int(round(left)), int(round(top)), bits.astype(float), color)


def _wrap(text: str, width: int, scale: int) -> list[str]:
    chars = max(width // (_ADVANCE * scale), 8)
    return textwrap.wrap(text, chars) if text else []


def _draw_panel(canvas: _Canvas, panel: Panel, left: int, top: int, width: int, height: int, font: int) -> None:
    """Lay out and draw one panel inside the rectangle given (image pixels)."""
    xs = [s.x for s in panel.series]
    ys = [np.where(s.y > 0, s.y, np.nan) if panel.log_y else s.y for s in panel.series]
    xlo, xhi = _limits(xs, 0.02)
    if panel.ylim is not None:
        ylo, yhi = (float(v) for v in panel.ylim)
        if not (math.isfinite(ylo) and math.isfinite(yhi) and yhi > ylo and (ylo > 0 or not panel.log_y)):
            raise ValueError(f'ylim={panel.ylim!r} is not allowed: give finite (low, high) with low < high'
                             f'{" and low > 0 on a log axis" if panel.log_y else ""}.')
    else:
        ylo, yhi = _limits([np.log10(y) for y in ys] if panel.log_y else ys, 0.05)
        if panel.log_y:
            ylo, yhi = 10 ** ylo, 10 ** yhi
    if panel.log_y:
        ylo, yhi = math.log10(ylo), math.log10(yhi)
    yticks = _log_ticks(ylo, yhi) if panel.log_y else _linear_ticks(ylo, yhi, max(2, height // 60))
    ystep = yticks[1] - yticks[0] if len(yticks) > 1 else (yhi - ylo)
    ylabels = [_tick_label(10 ** t if panel.log_y else t, 10 ** t if panel.log_y else ystep) for t in yticks]
    gap = 2 * font  # between texts and the axes
    title_lines = _wrap(panel.title, width - 4 * font, font)
    line_h = 11 * font
    # the axes box: room left for the y label and tick labels, below for tick labels and the x label, above for
    # the title
    inner_left = left + (line_h + gap if panel.ylabel else 0) + max(text_width(t, font) for t in ylabels) + 3 * gap
    inner_top = top + len(title_lines) * line_h + (2 * gap if title_lines else gap + 4 * font)
    inner_bottom = top + height - (line_h + gap) - (line_h + gap if panel.xlabel else 0) - gap
    inner_right = left + width - 3 * gap - text_width('0' * 3, font) // 2
    bw, bh = inner_right - inner_left, inner_bottom - inner_top
    if bw < 20 or bh < 20:
        raise ValueError(f'the figure is too small for its texts: axes of {bw} x {bh} pixels; make it larger.')
    panel.box, panel.xlim, panel.ylim = (inner_left, inner_top, bw, bh), (xlo, xhi), (
        (10 ** ylo, 10 ** yhi) if panel.log_y else (ylo, yhi))
    xticks = _linear_ticks(xlo, xhi, max(2, bw // 100))
    xstep = xticks[1] - xticks[0] if len(xticks) > 1 else (xhi - xlo)
    xlabels = [_tick_label(t, xstep) for t in xticks]

    def col(v: float) -> float:
        return inner_left + (v - xlo) / (xhi - xlo) * bw

    def row(v: float) -> float:
        return inner_top + (yhi - v) / (yhi - ylo) * bh

    for t in xticks:  # grid and tick marks
        c = int(math.floor(col(t)))
        canvas.fill(c, inner_top, 1, bh, _GRID)
        canvas.fill(c, inner_bottom, 1, 2 * font, _INK)
    for t in yticks:
        r = int(math.floor(row(t)))
        canvas.fill(inner_left, r, bw, 1, _GRID)
        canvas.fill(inner_left - 2 * font, r, 2 * font, 1, _INK)

    # the curves, antialiased: one coverage mask per curve on the finer grid, averaged down
    s = SUPERSAMPLE
    cover_all = np.zeros((bh, bw))
    for i, series in enumerate(panel.series):
        y = np.log10(np.where(series.y > 0, series.y, np.nan)) if panel.log_y else series.y
        x, y = _decimate(series.x, y, bw * s, xlo, xhi)
        pts = np.stack([(x - xlo) / (xhi - xlo) * bw * s, (yhi - y) / (yhi - ylo) * bh * s], axis=1)
        mask = np.zeros((bh * s, bw * s), bool)
        _stroke(mask, pts, _LINE_WIDTH * s / 2, series.dashed)
        alpha = _downsample(mask, s)
        canvas.blend(inner_left, inner_top, alpha, _rgb(series.color or COLORS[i % len(COLORS)]))
        cover_all += alpha
    # the frame, just outside the box so that a curve on an edge stays visible
    for l_, t_, w_, h_ in ((inner_left - 1, inner_top - 1, bw + 2, 1), (inner_left - 1, inner_bottom, bw + 2, 1),
                           (inner_left - 1, inner_top - 1, 1, bh + 2), (inner_right, inner_top - 1, 1, bh + 2)):
        canvas.fill(l_, t_, w_, h_, _INK)
    for t, text in zip(xticks, xlabels):
        canvas.text(text, col(t), inner_bottom + 2 * font + gap, font, 'ct')
    for t, text in zip(yticks, ylabels):
        canvas.text(text, inner_left - 2 * font - gap, row(t), font, 'rm')
    if panel.xlabel:
        canvas.text(panel.xlabel, inner_left + bw / 2, top + height - gap - 2 * font, font, 'cb')
    if panel.ylabel:
        canvas.text(panel.ylabel, left + gap, inner_top + bh / 2, font, 'ct', vertical=True)
    for k, line in enumerate(title_lines):
        canvas.text(line, left + width / 2, top + gap + k * line_h, font, 'ct')
    _legend(canvas, panel, cover_all, font)


def _legend(canvas: _Canvas, panel: Panel, cover: _Arr, font: int) -> None:
    entries = [(i, s) for i, s in enumerate(panel.series) if s.label]
    if not entries:
        return
    left, top, bw, bh = panel.box
    scale = panel.legend_scale or font
    if panel.legend_scale is None and max(text_width(s.label or '', scale) for _, s in entries) > 0.6 * bw:
        scale = max(1, font // 2)
    labels = [_wrap(s.label or '', int(bw * 0.8), scale)[:3] for _, s in entries]
    line_h, pad, swatch = 11 * scale, 3 * scale, 7 * scale * 2
    lw = 2 * pad + swatch + pad + max(text_width(t, scale) for lines in labels for t in lines)
    lh = 2 * pad + sum(len(lines) for lines in labels) * line_h - 3 * scale
    lw, lh = min(lw, bw - 4), min(lh, bh - 4)
    # the corner whose rectangle the curves cross least
    corners = [(bw - lw - 4, 4), (4, 4), (bw - lw - 4, bh - lh - 4), (4, bh - lh - 4)]
    cx, cy = min(corners, key=lambda c: cover[c[1]:c[1] + lh, c[0]:c[0] + lw].sum())
    x0, y0 = left + cx, top + cy
    canvas.fill(x0, y0, lw, lh, np.ones(3), 0.85)
    for l_, t_, w_, h_ in ((x0, y0, lw, 1), (x0, y0 + lh - 1, lw, 1), (x0, y0, 1, lh), (x0 + lw - 1, y0, 1, lh)):
        canvas.fill(l_, t_, w_, h_, np.array([0.8, 0.8, 0.8]))
    y = y0 + pad
    for (i, series), lines in zip(entries, labels):
        color = _rgb(series.color or COLORS[i % len(COLORS)])
        mid = y + 7 * scale // 2
        if series.dashed:
            for d in range(0, swatch, 6 * scale):
                canvas.fill(x0 + pad + d, mid - 1, min(4 * scale, swatch - d), 2, color)
        else:
            canvas.fill(x0 + pad, mid - 1, swatch, 2, color)
        for line in lines:
            canvas.text(line, x0 + 2 * pad + swatch, y, scale, 'lt')
            y += line_h


def render(panels: Sequence[Panel], width: int = 720, height: int = 400, title: str = '',
           font: int = 2) -> _Arr:
    """Draw ``panels`` side by side under an optional ``title``: an RGB image, ``uint8`` of shape
    ``(height, width, 3)``.

    Args:
        panels: one or more :class:`Panel` (their ``box``, ``xlim`` and ``ylim`` are set to what was drawn).
        width, height: image size in pixels, ``>= 100``.
        title: a figure title above the panels ('' for none).
        font: text scale, image pixels per font pixel, ``>= 1`` (2: capitals 14 pixels high).

    Raises:
        ValueError: a size below 100, no panel, a panel's ``ylim`` that is not finite and increasing (positive on
            a log axis), or a figure too small for its texts.
    """
    if not panels:
        raise ValueError('panels=[] is not allowed: give at least one Panel.')
    if int(width) != width or int(height) != height or width < 100 or height < 100:
        raise ValueError(f'width={width!r}, height={height!r} are not allowed: give integers >= 100.')
    if int(font) != font or font < 1:
        raise ValueError(f'font={font!r} is not allowed: give an integer >= 1.')
    canvas = _Canvas(int(width), int(height))
    top = 0
    if title:
        lines = _wrap(title, width - 8 * font, font)
        for k, line in enumerate(lines):
            canvas.text(line, width / 2, 3 * font + k * 11 * font, font, 'ct')
        top = 3 * font + len(lines) * 11 * font
    each = width // len(panels)
    for k, panel in enumerate(panels):
        _draw_panel(canvas, panel, k * each, top, each, height - top, font)
    return np.round(np.clip(canvas.rgb, 0, 1) * 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------- PNG
def encode_png(image: _Arr) -> bytes:
    """The PNG file of an RGB ``uint8`` image of shape ``(height, width, 3)``: 8-bit truecolour, each row filtered
    with the "Up" filter (the byte difference to the row above, which zlib compresses well on flat charts).

    Raises:
        ValueError: another shape or dtype.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ValueError(f'image of dtype {image.dtype} and shape {image.shape} is not allowed: give uint8 '
                         '(height, width, 3).')
    h, w, _ = image.shape
    rows = image.reshape(h, w * 3)
    up = np.empty_like(rows)
    up[0] = rows[0]
    up[1:] = rows[1:] - rows[:-1]  # uint8 arithmetic wraps modulo 256, as the filter defines
    raw = np.concatenate([np.full((h, 1), 2, np.uint8), up], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)

    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))


def write_png(path: Union[str, 'os.PathLike[str]'], image: _Arr) -> str:
    """Write ``image`` (see :func:`encode_png`) to ``path``, creating its folder; returns the path."""
    path = os.fspath(path)
    data = encode_png(image)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def line_chart(path: Union[str, 'os.PathLike[str]'], panels: Sequence[Panel], width: int = 720,
               height: int = 400, title: str = '') -> str:
    """:func:`render` then :func:`write_png`; returns the path written."""
    return write_png(path, render(panels, width, height, title))
