"""Numbers the app itself put into a Slack payload, read back: ticket and tag ids, pages, closures.

Button values, ``block_id`` suffixes, option values and ``private_metadata`` come back in
signed payloads, but they are still text someone could have built: read them as the app
wrote them or not at all. ``str.isdigit`` and ``int`` accept far more than the app writes:
``int("١٢")`` is 12 (Arabic-Indic digits), ``"²".isdigit()`` is True yet ``int("²")`` raises,
and a 40-digit value parses but overflows the database's ``integer`` (int32) column. So a
number here is ASCII digits only, at most as many as the bound has, and within the bound;
anything else is None, which the caller answers as an out-of-date button.
"""

from __future__ import annotations

import re

# PostgreSQL's ``integer``: every id column, and far beyond any page number.
INT32_MAX = 2**31 - 1
# A closure is ``closedAt`` in epoch milliseconds (lifecycle.closure_key): a bigint.
INT64_MAX = 2**63 - 1

_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def payload_number(value: object, *, maximum: int = INT32_MAX) -> int | None:
    """``value`` as the non-negative integer the app wrote (ASCII digits, at most ``maximum``), else None."""
    if not isinstance(value, str) or len(value) > len(str(maximum)) or not _ASCII_DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if number <= maximum else None


def payload_id(value: object) -> int | None:
    """A database id (ticket, tag, question tag) the app wrote: 1 to INT32_MAX, else None."""
    number = payload_number(value)
    return number if number else None


def payload_number_pair(value: object, *, second_maximum: int = INT32_MAX) -> tuple[int, int] | None:
    """``"<id>:<number>"`` (a closing button's ``<ticket id>:<closure>``), each part read as above."""
    if not isinstance(value, str):
        return None
    first, colon, second = value.partition(":")
    ticket_id, number = payload_id(first), payload_number(second, maximum=second_maximum)
    return (ticket_id, number) if colon and ticket_id is not None and number is not None else None
