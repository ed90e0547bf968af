"""The clock-sensitive tests pass at the instants that broke them before, whatever the real hour.

Each instant runs those tests in a child pytest under Debian's ``faketime``, which moves the clock
of the whole stack (Python, the service, and an embedded PostgreSQL the child starts for itself)
by one constant offset, so every process agrees on "now". (libfaketime moves the monotonic clock
with it; leaving that one alone makes its sleeps fail with EINVAL.) The machine's zone is varied
too (``TZ``): no test may depend on it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.postgres import ROOT

# The tests whose subject is "now": the scheduler and its jobs, and the windows, days and ages of
# the statistics (which the API's aggregates and the App Home's boards serve). `nephthys jobs` is
# tested with explicit dates (tests/tasks/test_jobs_command.py): it runs in the main suite only.
CLOCK_SENSITIVE = [
    "tests/tasks",
    "--deselect=tests/tasks/test_jobs_command.py",
    "tests/stats",
]

INSTANTS = {
    # 00:30 in London on a Saturday (GMT): the real previous day's summary was due six hours ago.
    "saturday-0030-london": (datetime(2026, 11, 28, 0, 30, tzinfo=UTC), "Europe/London"),
    # 00:30 BST on Sunday 25 October 2026, the night the clocks go back (01:00-02:00 happens twice).
    "dst-sunday-0030-london": (datetime(2026, 10, 24, 23, 30, tzinfo=UTC), "America/New_York"),
    # Noon on a Wednesday.
    "weekday-noon": (datetime(2026, 12, 9, 12, 0, tzinfo=UTC), "Asia/Kolkata"),
}

FAKETIME = shutil.which("faketime")


def real_now() -> datetime:
    """The machine's real time, also when the whole suite runs under faketime's offset form (the
    child's FAKETIME replaces the suite's, so its offset is counted from the real clock)."""
    outer = re.fullmatch(r"([+-]\d+(?:\.\d+)?)s?", os.environ.get("FAKETIME", ""))
    return datetime.now(UTC) - timedelta(seconds=float(outer.group(1)) if outer else 0)


@pytest.mark.skipif(
    FAKETIME is None, reason="Debian's faketime is not installed (./scripts/test installs it)"
)
@pytest.mark.skipif("NEPHTHYS_FAKED_INSTANT" in os.environ, reason="already inside a faked run")
@pytest.mark.parametrize("name", list(INSTANTS))
def test_the_clock_sensitive_tests_pass_at(name):
    instant, machine_zone = INSTANTS[name]
    # Beside the suite's own embedded data (pgserver runs PostgreSQL as its own user, which cannot
    # enter pytest's private tmp_path); new for each run, since the clock moved since the last.
    pgdata = ROOT / ".nephthys" / f"faked-pgdata-{name}"
    shutil.rmtree(pgdata, ignore_errors=True)
    offset = int((instant - real_now()).total_seconds())
    env = {
        key: value
        for key, value in os.environ.items()
        # The child starts its own PostgreSQL under the faked clock.
        if key not in {"TEST_DATABASE_URL", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"}
    }
    env |= {
        "TEST_PGDATA": str(pgdata),
        "NEPHTHYS_FAKED_INSTANT": name,
        "TZ": machine_zone,
    }
    faked = [FAKETIME, "-f", f"{offset:+d}s", sys.executable]
    # The fake reaches the child: its clock reads the instant (give or take the seconds it took to start).
    seen = subprocess.run([*faked, "-c", "import time; print(time.time())"], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert abs(float(seen.stdout) - instant.timestamp()) < 120, seen.stdout
    child = subprocess.run(
        [*faked, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CLOCK_SENSITIVE],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    shutil.rmtree(pgdata, ignore_errors=True)
    summary = child.stdout.strip().splitlines()[-1] if child.stdout.strip() else ""
    assert child.returncode == 0, (
        f"at {instant:%Y-%m-%d %H:%M}Z ({name}): {summary}\n{child.stdout[-6000:]}\n{child.stderr[-3000:]}"
    )
    assert " passed" in summary and "failed" not in summary, summary
