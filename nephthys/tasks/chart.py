"""The daily summary's chart: a PNG of the last days, new and closed per day and open at each day's end.

matplotlib with its Agg backend (no display), drawn into memory. The service draws it in a child
process (:func:`draw_chart_apart`, ``python -m nephthys.tasks.chart``), never in its own: importing
matplotlib and numpy is ~0.5 s of CPU holding the GIL, so from a thread it held the event loop
(every Slack acknowledgement) while it ran, and it left ~55,000 objects behind that a later full
garbage collection walks; the summary's catch-up at start-up put both at the start of a burst of
questions (issue 23).
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import threading
from collections.abc import Sequence
from datetime import date
from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nephthys.stats.summary import DayCounts

# Beyond this the child is stopped and the chart fails (the summary's text is posted without it).
CHART_WITHIN_SECONDS = 60.0

# pyplot keeps global state; one chart at a time per process.
_DRAWING = threading.Lock()


def draw_chart(series: Sequence[DayCounts], *, title: str, new: str, closed: str, open_at_end: str) -> bytes:
    """The PNG bytes of ``series`` (labels from the transcript)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with _DRAWING:
        figure = Figure(figsize=(8, 3.2), dpi=100)
        # Fixed margins, not tight_layout (which measures every label and costs more than the drawing).
        figure.subplots_adjust(left=0.06, right=0.99, top=0.88, bottom=0.2)
        axes = figure.add_subplot()
        positions = list(range(len(series)))
        width = 0.4
        axes.bar(
            [p - width / 2 for p in positions], [d.new for d in series], width, label=new, color="#4c78a8"
        )
        axes.bar(
            [p + width / 2 for p in positions],
            [d.closed for d in series],
            width,
            label=closed,
            color="#59a14f",
        )
        axes.plot(positions, [d.open_at_end for d in series], label=open_at_end, color="#e15759", marker="o")
        axes.set_xticks(positions, [f"{d.day:%d %b}" for d in series], fontsize=7, rotation=45)
        axes.set_title(title, fontsize=10, loc="left")
        # Above the plot, beside the title, so it never hides a bar or the line.
        axes.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1, 1), ncols=3, frameon=False)
        axes.grid(axis="y", alpha=0.3)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


class ChartError(RuntimeError):
    """The child process drew no chart."""


async def draw_chart_apart(
    series: Sequence[DayCounts], *, title: str, new: str, closed: str, open_at_end: str
) -> bytes:
    """:func:`draw_chart` in a child process (the module docstring says why)."""
    request = json.dumps(
        {
            "series": [[d.day.isoformat(), d.new, d.closed, d.open_at_end] for d in series],
            "labels": {"title": title, "new": new, "closed": closed, "open_at_end": open_at_end},
        }
    ).encode()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nephthys.tasks.chart",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        png, errors = await asyncio.wait_for(child.communicate(request), CHART_WITHIN_SECONDS)
    except BaseException:
        if child.returncode is None:
            child.kill()
            await child.wait()
        raise
    if child.returncode != 0 or not png:
        raise ChartError(
            f"the chart's process ended with {child.returncode}: {errors.decode(errors='replace')[-500:]}"
        )
    return png


def _draw_from_stdin() -> None:
    """The child's side: the request as JSON on stdin, the PNG bytes on stdout."""
    request = json.loads(sys.stdin.buffer.read())
    series = [
        SimpleNamespace(day=date.fromisoformat(day), new=new, closed=closed, open_at_end=open_at_end)
        for day, new, closed, open_at_end in request["series"]
    ]
    sys.stdout.buffer.write(draw_chart(series, **request["labels"]))  # type: ignore[arg-type]


if __name__ == "__main__":
    _draw_from_stdin()
