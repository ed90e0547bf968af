"""What bench/slack_probe/sitecustomize.py recorded, summed up: ``python probe_report.py probe.json``."""

import collections
import json
import sys


def pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main(path: str) -> None:
    records = json.load(open(path))
    start = min(at for at, *_ in records["request"])  # the burst's first Slack request
    windows = [(0, 0.5), (0.5, 1), (1, 2), (2, 5), (5, 11)]
    for key in ("request", "claim"):
        rows = records[key]
        print(
            f"{key}: n={len(rows)} p50 {pct([r[1] for r in rows], 0.5):.1f} ms p99 {pct([r[1] for r in rows], 0.99):.1f}"
        )
        for low, high in windows:
            took = [r[1] for r in rows if low <= r[0] - start < high]
            if took:
                print(f"  {low}-{high} s: n={len(took)} p50 {pct(took, 0.5):.1f} max {max(took):.1f}")
    burst = [(round(at - start, 2), name) for at, name in records["connect"] if at >= start - 0.1]
    print(f"connections opened from the burst on: {len(burst)} {burst[:30]}")
    waits = [took for at, took in records["checkout"] if at >= start - 0.1]
    print(
        f"pool checkout wait: p50 {pct(waits, 0.5):.2f} ms p99 {pct(waits, 0.99):.1f} max {max(waits or [0]):.1f}"
    )
    per_second = collections.Counter()
    for at, lag in records["lag"]:
        if at >= start:
            per_second[int(at - start)] += lag
    print("loop lag per second (ms):", {s: round(v) for s, v in sorted(per_second.items())[:15]})
    collections_ = [r for r in records["gc"] if r[0] >= start - 1]
    for generation in (0, 1, 2):
        rows = [r for r in collections_ if r[1] == generation]
        print(
            f"gc gen{generation}: {len(rows)}, CPU {sum(r[3] for r in rows):.1f} ms, wall {sum(r[2] for r in rows):.1f} ms"
        )
    print(
        "  full collections (s after start, CPU ms):",
        [(round(r[0] - start, 2), round(r[3], 1)) for r in collections_ if r[1] == 2],
    )
    for label in sorted({r[0] for r in records["stage"]}):
        took = [r[2] for r in records["stage"] if r[0] == label]
        print(
            f"stage {label:10} n={len(took)} p50 {pct(took, 0.5):.1f} ms p90 {pct(took, 0.9):.1f} max {max(took):.1f}"
        )
    waits = [took for _, took in records["slot_wait"]]
    print(
        f"event slot wait: p50 {pct(waits, 0.5):.1f} ms p90 {pct(waits, 0.9):.1f} max {max(waits or [0]):.1f}"
    )
    stalls = collections.Counter(
        next((frame for frame in stack if frame.startswith("nephthys/")), stack[0])
        for _, stack in records["stack"]
    )
    print("loop stalls (>8 ms), innermost service frame:", stalls.most_common(8))


if __name__ == "__main__":
    main(sys.argv[1])
