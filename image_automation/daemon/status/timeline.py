"""A policy's versions in Git as an SVG step chart, drawn on the server (no script needed).

Pure: versions in, SVG text out. x is commit time, y is the value: each distinct value gets a
row in the order it first landed, so upgrades climb and a rollback steps back down to a row
used before. Every text is escaped here (the chart is inserted into the page as markup);
each point has a ``<title>`` (the commit and its time) for a tooltip and screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from markupsafe import Markup, escape

from image_automation.daemon.status.model import VersionView

WIDTH = 720
ROW = 28
LEFT = 170
RIGHT = 20
TOP = 16
BOTTOM = 34
MAX_LABEL = 24
MAX_POINTS = 400
"""The chart draws the newest this many commits (the table below it lists them all)."""


def timeline_svg(versions: Sequence[VersionView], *, title: str) -> Markup:
    """The chart of ``versions`` (oldest first); a short note when there is nothing to draw."""
    points = list(versions)[-MAX_POINTS:]
    if not points:
        return Markup('<p class="muted">No commit in the history read sets this policy.</p>')
    rows: dict[str, int] = {}
    for point in points:
        rows.setdefault(point.value, len(rows))
    height = TOP + BOTTOM + ROW * max(len(rows), 1)
    start, end = points[0].committed_at, points[-1].committed_at
    span = (end - start).total_seconds() or 1.0

    def x(when: datetime) -> float:
        if start == end:
            return float(LEFT + (WIDTH - LEFT - RIGHT) // 2)
        return LEFT + (WIDTH - LEFT - RIGHT) * (when - start).total_seconds() / span

    def y(value: str) -> float:
        return float(TOP + ROW * (len(rows) - 1 - rows[value]) + ROW // 2)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} '
        f'{height}" width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for value in rows:
        top = y(value)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{top:.1f}" '
                     f'y2="{top:.1f}"/>')  # fmt: skip
        parts.append(f'<text class="label" x="{LEFT - 8}" y="{top + 4:.1f}" '
                     f'text-anchor="end">{escape(_short(value))}</text>')  # fmt: skip
    path = []
    for i, point in enumerate(points):
        px, py = x(point.committed_at), y(point.value)
        if i:
            path.append(f"H{px:.1f}V{py:.1f}")
        else:
            path.append(f"M{px:.1f},{py:.1f}")
    path.append(f"H{WIDTH - RIGHT}")
    parts.append(f'<path class="step" d="{"".join(path)}"/>')
    for point in points:
        px, py = x(point.committed_at), y(point.value)
        tip = f"{point.value} in {point.commit[:12]} at {point.committed_at:%Y-%m-%d %H:%M} UTC"
        parts.append(f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="4">'
                     f"<title>{escape(tip)}</title></circle>")  # fmt: skip
    base = height - BOTTOM + 20
    parts.append(f'<text class="axis" x="{LEFT}" y="{base}">{start:%Y-%m-%d %H:%M}</text>')
    if end != start:
        parts.append(f'<text class="axis" x="{WIDTH - RIGHT}" y="{base}" '
                     f'text-anchor="end">{end:%Y-%m-%d %H:%M}</text>')  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(value: str) -> str:
    """The tag part of a long reference, cut to :data:`MAX_LABEL` characters."""
    tail = value.rsplit("/", 1)[-1]
    return tail if len(tail) <= MAX_LABEL else tail[: MAX_LABEL - 1] + "…"


__all__ = ["MAX_POINTS", "timeline_svg"]
