"""The daily summary's chart: a PNG of the last days, new and closed per day and open at each day's end.

matplotlib with its Agg backend (no display), drawn into memory. The import is
deferred to the first chart, so the service starts without paying for it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

from nephthys.stats.summary import DayCounts

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
