"""The verification report: sections of checks, with figures, as JSON and as a self-contained page."""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pygal
from pygal.style import Style


@dataclass(frozen=True)
class Check:
    """One comparison: what was compared, whether it agreed, and the numbers behind it."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class Section:
    """The checks of one kind of record (code, roles, funds, rounds, claims, token)."""

    title: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)  # amounts in micro-euros, labels as keys

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        """Record one comparison."""
        self.checks.append(Check(name, ok, detail))

    @property
    def ok(self) -> bool:
        """True when every check agreed."""
        return all(c.ok for c in self.checks)


@dataclass
class Report:
    """What was verified, up to which block, and where anything disagreed."""

    chain_id: int
    block_number: int
    block_hash: str
    events: int
    sections: list[Section] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every section agreed."""
        return all(s.ok for s in self.sections)

    @property
    def mismatches(self) -> list[str]:
        """Every failed check as `section: check: detail`."""
        return [f"{s.title}: {c.name}: {c.detail}" for s in self.sections for c in s.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON data."""
        return {
            "chainId": self.chain_id,
            "blockNumber": self.block_number,
            "blockHash": self.block_hash,
            "events": self.events,
            "ok": self.ok,
            "sections": [
                {
                    "title": s.title,
                    "ok": s.ok,
                    "figures": s.figures,
                    "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in s.checks],
                }
                for s in self.sections
            ],
        }

    def json_text(self) -> str:
        """The JSON file's text (stable: sorted keys)."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    def sha256(self) -> str:
        """Hash of the JSON text: what an attestation would name."""
        return hashlib.sha256(self.json_text().encode()).hexdigest()


_STYLE = Style(background="white", plot_background="white", font_family="sans-serif")
_EUR = 1_000_000
_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


def _chart(section: Section) -> str:
    """The section's figures as an inline SVG bar chart (no scripts, no external assets)."""
    chart = pygal.HorizontalBar(
        style=_STYLE,
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        height=60 + 40 * len(section.figures),
    )
    chart.title = f"{section.title} (€)"
    chart.x_labels = list(section.figures)
    chart.add("€", [round(v / _EUR, 2) for v in section.figures.values()])
    svg: str = chart.render(is_unicode=True)
    return _SCRIPT.sub("", svg)  # pygal's tooltip config; the page needs no script


def render_html(report: Report) -> str:
    """A self-contained page: verdict, every check, and each section's figures as a chart and a table."""
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Allmende verification report</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .5rem;text-align:left}"
        ".ok{color:#1a6b1a}.bad{color:#a00000;font-weight:bold}</style></head><body>",
        "<h1>Allmende verification report</h1>",
        f"<p>Chain {report.chain_id}, up to block {report.block_number} "
        f"(<code>{e(report.block_hash)}</code>), {report.events} events. Verdict: "
        + (
            '<strong class="ok">everything agrees</strong>'
            if report.ok
            else '<strong class="bad">MISMATCH</strong>'
        )
        + "</p>",
    ]
    for s in report.sections:
        parts.append(f"<h2>{e(s.title)}: {'agrees' if s.ok else 'MISMATCH'}</h2>")
        parts.append("<table><thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead><tbody>")
        for c in s.checks:
            mark = '<td class="ok">ok</td>' if c.ok else '<td class="bad">mismatch</td>'
            parts.append(f"<tr><td>{e(c.name)}</td>{mark}<td>{e(c.detail)}</td></tr>")
        parts.append("</tbody></table>")
        if s.figures:
            parts.append(f"<figure>{_chart(s)}<figcaption>")
            parts.append("<table><thead><tr><th>figure</th><th>€</th></tr></thead><tbody>")
            for label, value in s.figures.items():
                parts.append(f"<tr><td>{e(label)}</td><td>{value / _EUR:,.2f}</td></tr>")
            parts.append("</tbody></table></figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
