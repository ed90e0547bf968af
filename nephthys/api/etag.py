"""Entity tags for polled statistics: ``ETag`` on the answer, an empty 304 when ``If-None-Match`` matches.

RFC 9110: ``If-None-Match`` is ``*`` or a comma-separated list of entity tags,
compared weakly (``W/"x"`` matches ``"x"``) for GET and HEAD.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response


def entity_tag(content: bytes, *, weak: bool = False) -> str:
    """A tag for ``content``: the same bytes give the same tag, on every instance."""
    tag = f'"{hashlib.blake2b(content, digest_size=16).hexdigest()}"'
    return f"W/{tag}" if weak else tag


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def matches(request: Request, etag: str) -> bool:
    """Does the request's ``If-None-Match`` name ``etag`` (weak comparison) or ``*``?"""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    wanted = _opaque(etag)
    return any(candidate.strip() == "*" or _opaque(candidate) == wanted for candidate in header.split(","))


def not_modified(etag: str) -> Response:
    """The empty 304 that tells the client its copy is current."""
    return Response(status_code=304, headers={"ETag": etag})
