"""What /slack/events lets through to Bolt, checked over the raw bytes before anything parses them.

Bolt parses a body before it checks its signature, so a malformed body (bad JSON, JSON
``null``, a form payload that is not JSON, bytes that are not UTF-8) or a non-numeric
``X-Slack-Request-Timestamp`` would fail inside it, unsigned, with a traceback. Here the
order is the other way round:

1. the signature (v0, 5-minute window) over the raw bytes: unsigned, wrongly signed, stale or
   with a timestamp that is not a short run of ASCII digits -> 401, whatever the body (a
   timestamp of 4,301 digits or more is past what Python's ``int`` reads from a string);
2. the body, parsed as Bolt will parse it: not an object, or nested deeper than
   ``MAX_JSON_DEPTH`` (JSON or a form's ``payload=``) -> 400;
3. an Events API envelope must carry an ``event`` object and a string ``event_id`` -> else 400
   (nothing is claimed, so no row is left that nothing will process).

``clean_payload`` then makes what Slack sent storable: PostgreSQL refuses NUL characters in
text and jsonb, and UTF-8 has no lone surrogates (JSON's ``"\\ud800"`` parses to one).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.request.internals import parse_body

# Slack's window: a request signed longer ago than this is stale (a replay).
SIGNATURE_WINDOW_SECONDS = 5 * 60
# A Slack event_id is short ("Ev0123ABCD"); the column is text, but a megabyte-long id is no event id.
MAX_EVENT_ID_LENGTH = 255
# Seconds since 1970 have 10 digits until the year 2286; a longer timestamp is no Slack timestamp.
MAX_TIMESTAMP_DIGITS = 12
# Slack's deepest payloads (rich text lists inside blocks inside a view) nest a few tens of levels.
# Deeper, a body would reach Python's recursion limit in the JSON parser, in cleaning it or in
# storing it (RecursionError, a 500): refused before anything walks it recursively.
MAX_JSON_DEPTH = 100

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Refusal:
    """Why a request is answered without Bolt: its status and a line for the log (no request data)."""

    status: int
    reason: str
    signed: bool  # a signed refusal came from Slack (or someone holding the secret): worth a human's eye


def signature_is_valid(raw: bytes, timestamp: str, signature: str, secret: str) -> bool:
    """Slack's v0 signature over the raw bytes, within the window.

    Written here rather than slack_sdk's SignatureVerifier, which decodes the body as UTF-8
    first and so raises on bytes that are not (it must be a 401, not a 500).
    """
    if abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:  # short ASCII digits: checked_body
        return False
    signed = b"v0:" + timestamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("latin-1", "replace"))


def checked_body(raw: bytes, headers: Mapping[str, str], signing_secret: str) -> Refusal | dict[str, Any]:
    """The body as Bolt would parse it, when Bolt may have the request; otherwise why not (see the
    module docstring). Parsed once: Bolt is handed this dict rather than parsing the bytes again."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if (
        not timestamp
        or not signature
        or len(timestamp) > MAX_TIMESTAMP_DIGITS
        or not timestamp.isascii()
        or not timestamp.isdigit()
    ):
        return Refusal(401, "unsigned request, or its timestamp is not a number", signed=False)
    if not signature_is_valid(raw, timestamp, signature, signing_secret):
        return Refusal(401, "wrong or stale signature", signed=False)
    body = parsed_body(raw, headers.get("content-type"))
    if body is None:
        return Refusal(
            400,
            f"signed, but the body is not a JSON object or a form Bolt can read (or nests over {MAX_JSON_DEPTH} deep)",
            signed=True,
        )
    if body.get("type") == "event_callback":
        if not isinstance(body.get("event"), dict):
            return Refusal(400, "signed event_callback without an event object", signed=True)
        event_id = body.get("event_id")
        if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID_LENGTH:
            return Refusal(400, "signed event_callback whose event_id is not a short string", signed=True)
    return body


def parsed_body(raw: bytes, content_type: str | None) -> dict[str, Any] | None:
    """The body as Bolt will parse it, or None when Bolt could not (or would not get a dict), or
    when it nests deeper than ``MAX_JSON_DEPTH``."""
    try:
        text = raw.decode("utf-8")
        body = parse_body(text, content_type.split(";")[0] if content_type else None)
    except (UnicodeDecodeError, ValueError, RecursionError):  # json.JSONDecodeError is a ValueError
        return None
    return body if isinstance(body, dict) and nests_within(body, MAX_JSON_DEPTH) else None


def nests_within(value: object, depth: int) -> bool:
    """Do ``value``'s dicts and lists nest at most ``depth`` deep? Walked with a stack, not recursion."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if level > depth:
            return False
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return True


def clean_text(text: str) -> str:
    """``text`` without NUL characters, each lone surrogate replaced by U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def clean_payload(payload: dict) -> int:
    """Clean every string (keys too) in ``payload``, in place, so the listeners see the cleaned
    event too; returns how many strings changed."""
    changed = 0

    def cleaned(value: Any) -> Any:
        nonlocal changed
        if isinstance(value, str):
            result = clean_text(value)
            changed += result != value
            return result
        if isinstance(value, dict):
            items = [(cleaned(key), cleaned(item)) for key, item in value.items()]
            value.clear()
            value.update(items)
        elif isinstance(value, list):
            value[:] = [cleaned(item) for item in value]
        return value

    cleaned(payload)
    return changed
