"""Reading query parameters the same way on every route: first of repeated ones, bounded, validated.

A handler turns :class:`BadParameter` into a 400 whose ``error`` names the
parameter and the value, so no query string can reach the database malformed.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request

# Longer values are refused before any parsing (no valid value comes near it).
MAX_VALUE_LENGTH = 200
# Control characters (NUL among them) never belong in a value and PostgreSQL refuses NUL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
INT32_MAX = 2**31 - 1


class BadParameter(ValueError):
    """A query parameter is malformed; the message names it and its value."""


def shown(value: str) -> str:
    """The value as an error message quotes it (shortened when long)."""
    return repr(value if len(value) <= 60 else value[:60] + "…")


def first(request: Request, *names: str) -> tuple[str, str] | None:
    """``(name, value)`` of the first of ``names`` given with a non-blank value; the first value if repeated.

    A blank value (``?status=``) counts as not given, as it always has.
    """
    for name in names:
        values = request.query_params.getlist(name)
        if not values:
            continue
        value = values[0]
        if len(value) > MAX_VALUE_LENGTH:
            raise BadParameter(
                f"{name}: value too long ({len(value)} characters, at most {MAX_VALUE_LENGTH})"
            )
        if _CONTROL.search(value):
            raise BadParameter(f"{name}: control characters are not allowed, got {shown(value)}")
        value = value.strip()
        if value:
            return name, value
    return None


def instant(request: Request, *names: str) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when it has no offset), from the first of ``names`` given.

    Every alias given must be well-formed, though only the first counts: ``?until=…&before=junk``
    is refused rather than answered as if ``before`` were not there.
    """
    chosen: datetime | None = None
    for name in names:
        found = first(request, name)
        if found is not None:
            parsed = _instant(*found)
            chosen = parsed if chosen is None else chosen
    return chosen


def period(request: Request) -> tuple[datetime | None, datetime | None]:
    """``(since, until)`` from ``since``/``after`` and ``until``/``before``; since after until is refused."""
    since, until = instant(request, "since", "after"), instant(request, "until", "before")
    if since is not None and until is not None and since > until:
        raise BadParameter("since: must not be after until")
    return since, until


def _instant(name: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadParameter(
            f"{name}: expected an ISO 8601 date or date-time like 2026-01-31 or 2026-01-31T12:00:00Z, "
            f"got {shown(value)}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00
        raise BadParameter(f"{name}: out of range, got {shown(value)}") from None


def whole_number(request: Request, name: str, *, low: int, high: int) -> int | None:
    """A whole number from ``low`` to ``high`` (ASCII digits only), or None when not given."""
    found = first(request, name)
    if found is None:
        return None
    _, value = found
    if not re.fullmatch(r"[+-]?[0-9]{1,12}", value) or not low <= int(value) <= high:
        raise BadParameter(f"{name}: expected a whole number from {low} to {high}, got {shown(value)}")
    return int(value)


# Names the zone database holds that are not canonical IANA zones: "Factory" (a placeholder
# zone) and "localtime" (the machine's own zone, a link). available_timezones() already leaves
# out the posix/ and right/ copies and "posixrules".
_NOT_ZONES = frozenset({"Factory", "localtime"})


@functools.cache
def canonical_zone_names() -> frozenset[str]:
    """The IANA zone names a client may ask for (read once: the zone database does not change under us)."""
    return frozenset(zoneinfo.available_timezones() - _NOT_ZONES)


def zone(request: Request, name: str, default: str) -> ZoneInfo:
    """An IANA zone name like Europe/Berlin from ``name``; the ``default`` (a setting) when not given.

    Only canonical names are accepted from a client, never a path into the zone database
    (``posix/…``, ``right/…``, ``../``) nor ``Factory`` or ``localtime``: each would be another
    key for the stores a zone names (docs/api.md, Bounds).
    """
    found = first(request, name)
    if found is None:
        return ZoneInfo(default)
    value = found[1]
    if value not in canonical_zone_names():
        raise BadParameter(f"{name}: expected an IANA time zone like Europe/Berlin, got {shown(value)}")
    return ZoneInfo(value)
