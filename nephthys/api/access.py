"""What a request may see, as ApiAccessMiddleware decided it (API_ACCESS, API_DESCRIPTIONS, keys)."""

from __future__ import annotations

from starlette.requests import Request

from nephthys.api.middleware import KEY_HOLDER


def holds_key(request: Request) -> bool:
    """Did the request present a valid API key or API_TOKEN?"""
    return bool(request.scope.get(KEY_HOLDER))


def shows_descriptions(request: Request) -> bool:
    """Ticket descriptions go to everyone (API_DESCRIPTIONS=public) or to key holders only."""
    return request.app.state.settings.api_descriptions == "public" or holds_key(request)
