"""The public pages' pictures as server-rendered SVG: line and bar charts drawn by pygal, and the money
flow drawn by `flow_svg` here (pygal has no Sankey diagram).

A picture is a standalone SVG document that a page shows as an image next to a table with the same
numbers, so it needs no script (pygal's tooltip script is never included) and nothing from elsewhere.
Its text is what the caller passes in, already translated and formatted; this module escapes it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pygal
from pygal.style import Style

from api.open_data.figures import OUTCOMES, Edge, column

MICRO = 1_000_000
_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
COLOURS = ("#0b4f9c", "#b8520a", "#0f7a3a", "#7a2a8c", "#a3122a", "#3d4a55")
"""Distinguishable colours, each at least 4.5:1 against white."""
_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#111",
    foreground_strong="#111",
    foreground_subtle="#555",
    colors=COLOURS,
    font_family="system-ui, 'Noto Sans', 'DejaVu Sans', sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    title_font_size=16,
    value_font_size=12,
)


def _pygal(chart: pygal.graph.graph.Graph) -> str:
    svg: str = chart.render(is_unicode=True)
    return _SCRIPT.sub("", svg)


def _options(title: str, height: int) -> dict[str, object]:
    return {
        "style": _STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "title": title,
        "height": height,
        "width": 800,
        "legend_at_bottom": True,
        "print_values": False,
        "truncate_label": -1,
        "truncate_legend": -1,
    }


def line_svg(title: str, x_labels: Sequence[str], series: Mapping[str, Sequence[int]], unit: str) -> str:
    """Lines of cumulative amounts (micro-euros) over `x_labels`, the y axis in `unit` (e.g. "€")."""
    chart = pygal.Line(
        **_options(title, 420),
        x_label_rotation=30,
        show_minor_x_labels=len(x_labels) <= 12,
        y_title=unit,
        dots_size=3,
    )
    chart.x_labels = list(x_labels)
    if len(x_labels) > 12:
        step = max(1, len(x_labels) // 12)
        chart.x_labels_major = list(x_labels)[::step]
    for name, values in series.items():
        chart.add(name, [round(v / MICRO, 2) for v in values])
    return _pygal(chart)


def bar_svg(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]]) -> str:
    """Horizontal bars: one group per label, one bar per series."""
    chart = pygal.HorizontalBar(**_options(title, 140 + 46 * max(1, len(labels)) * max(1, len(series))))
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _pygal(chart)


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    height: float
    total: int


def flow_svg(
    title: str,
    edges: Sequence[Edge],
    label: Callable[[str], str],
    money: Callable[[int], str],
    rtl: bool = False,
) -> str:
    """A Sankey-like picture: nodes in columns (see `api.open_data.figures`), each as tall as the larger
    of its in- and outflow, joined by bands as wide as the money they carry."""
    width, top, gap, band_height, node_width = 960, 40, 14, 420, 14
    e = html.escape
    if not edges:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 80" role="img">'
            f"<title>{e(title)}</title>"
            f'<text x="{width / 2}" y="45" text-anchor="middle" font-family="sans-serif" font-size="16">'
            f"{e(title)}</text></svg>"
        )
    inflow: dict[str, int] = {}
    outflow: dict[str, int] = {}
    for edge in edges:
        outflow[edge.source] = outflow.get(edge.source, 0) + edge.amount
        inflow[edge.target] = inflow.get(edge.target, 0) + edge.amount
    nodes = sorted(set(inflow) | set(outflow), key=lambda n: (column(n), _order(n)))
    columns = sorted({column(n) for n in nodes})
    index = {c: i for i, c in enumerate(columns)}
    totals = {n: max(inflow.get(n, 0), outflow.get(n, 0)) for n in nodes}
    per_column: dict[int, list[str]] = {}
    for n in nodes:
        per_column.setdefault(column(n), []).append(n)
    biggest = max(sum(totals[n] for n in ns) for ns in per_column.values())
    most = max(len(ns) for ns in per_column.values())
    scale = band_height / biggest if biggest else 0
    height = top + band_height + gap * (most - 1) + 30
    left, right = 10, width - 10 - node_width
    step = (right - left) / max(1, len(columns) - 1)
    boxes: dict[str, _Box] = {}
    for c, ns in per_column.items():
        y = float(top)
        x = left + index[c] * step
        if rtl:
            x = width - node_width - x
        for n in ns:
            h = max(2.0, totals[n] * scale)
            boxes[n] = _Box(x, y, h, totals[n])
            y += h + gap
    out_at = {n: b.y for n, b in boxes.items()}
    in_at = {n: b.y for n, b in boxes.items()}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" role="img" '
        f"font-family=\"system-ui, 'Noto Sans', 'DejaVu Sans', sans-serif\">",
        f"<title>{e(title)}</title>",
        f'<rect width="{width}" height="{height:.0f}" fill="#fff"/>',
        f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="17" font-weight="700" fill="#111">'
        f"{e(title)}</text>",
    ]
    for edge in edges:
        s, t = boxes[edge.source], boxes[edge.target]
        w = max(1.0, edge.amount * scale)
        y0 = out_at[edge.source] + w / 2
        y1 = in_at[edge.target] + w / 2
        out_at[edge.source] += edge.amount * scale
        in_at[edge.target] += edge.amount * scale
        x0, x1 = (s.x, t.x + node_width) if rtl else (s.x + node_width, t.x)
        mid = (x0 + x1) / 2
        colour = COLOURS[index[column(edge.source)] % len(COLOURS)]
        parts.append(
            f'<path d="M{x0:.1f},{y0:.1f} C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}" '
            f'fill="none" stroke="{colour}" stroke-opacity="0.35" stroke-width="{w:.1f}">'
            f"<title>{e(label(edge.source))} → {e(label(edge.target))}: {e(money(edge.amount))}</title>"
            "</path>"
        )
    last = len(columns) - 1
    for n, b in boxes.items():
        parts.append(
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{node_width}" height="{b.height:.1f}" fill="#123c33"/>'
        )
        at_end = index[column(n)] == last
        if rtl:
            at_end = not at_end
        tx = b.x - 6 if at_end else b.x + node_width + 6
        anchor = "end" if at_end else "start"
        ty = b.y + b.height / 2
        parts.append(
            f'<text x="{tx:.1f}" y="{ty - 3:.1f}" text-anchor="{anchor}" font-size="13" fill="#111" '
            f'stroke="#fff" stroke-width="4" paint-order="stroke">{e(label(n))}</text>'
        )
        parts.append(
            f'<text x="{tx:.1f}" y="{ty + 13:.1f}" text-anchor="{anchor}" font-size="12" fill="#333" '
            f'stroke="#fff" stroke-width="4" paint-order="stroke">{e(money(b.total))}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _order(node: str) -> tuple[int, str]:
    kind, _, rest = node.partition(":")
    if not rest:
        return (0, f"{OUTCOMES.index(kind) if kind in OUTCOMES else 99:02d}")
    return (int(rest), "") if rest.isdigit() else (0, rest)
