"""Schemathesis hooks for tests/api/test_schemathesis.py: the rules /openapi.json states only in words.

OpenAPI describes each query parameter on its own; two of the API's rules span parameters, and the
document says them in the operation's description and its 400 answer:

- ``/api/tickets`` needs status=open or in_progress, ``waiting_on``, a date bound, or ``limit`` (else
  "too broad");
- every other route with a period (``/api/stats/question_tags``, ``/api/stats/feedback``, …) refuses
  ``since`` after ``until``;
- ``/api/stats/daily`` covers at most 366 days (``until`` defaults to today);

and a ``cursor`` is only ever one a Link header gave out. A *schema-valid* case that breaks one
of them is a request the document says is refused, so it is not a "valid request rejected": such
cases are dropped here. Negative cases (schema-invalid on purpose) are all kept.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import schemathesis

from nephthys.api.aggregates import MAX_DAYS
from nephthys.api.params import BadParameter
from nephthys.api.tickets import decode_cursor


def _given(query: dict, *names: str) -> str | None:
    """The first of ``names`` with a non-blank value, as the API reads it (nephthys/api/params.py)."""
    for name in names:
        value = query.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def breaks_a_rule_across_parameters(path: str, query: dict) -> bool:
    if path == "/api/tickets":
        cursor = _given(query, "cursor")
        if cursor is not None:
            try:
                decode_cursor(cursor)
            except BadParameter:
                return True
        status = (_given(query, "status") or "").lower()
        narrowed = (
            status in ("open", "in_progress")
            or _given(query, "waiting_on", "since", "after", "until", "before", "limit") is not None
        )
        return not narrowed
    if path == "/api/stats/daily":
        first_day, last_day = _given(query, "since"), _given(query, "until")
        if first_day is not None:
            start = date.fromisoformat(first_day)
            if last_day is not None:
                earliest_end = latest_end = date.fromisoformat(last_day)
            else:  # today in ``tz``, which is within a day of UTC's today
                today = datetime.now(UTC).date()
                earliest_end, latest_end = today - timedelta(days=1), today + timedelta(days=1)
            if start > earliest_end or (latest_end - start).days >= MAX_DAYS:
                return True
    if path.startswith("/api/stats/"):
        since, until = _given(query, "since", "after"), _given(query, "until", "before")
        if since is not None and until is not None:

            def instant(value: str) -> datetime:
                parsed = datetime.fromisoformat(value)
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

            return instant(since) > instant(until)
    return False


@schemathesis.hook
def filter_case(context, case) -> bool:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return True
    return not breaks_a_rule_across_parameters(case.path, dict(case.query or {}))
