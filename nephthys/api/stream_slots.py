"""How many streamed answers (exports of /api/tickets) run at once: overall and per client.

Each stream holds an API database connection for as long as it runs, so streams are
capped below the API pool's size (API_MAX_STREAMS < API_DATABASE_CONNECTIONS, checked at
start-up) and per client (API_MAX_STREAMS_PER_CLIENT): a client is its API key when it
sent a valid one, else its address. A stream beyond either cap is not started: the
client gets a 429 with Retry-After. Bound: at most API_MAX_STREAMS entries are held.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable

from starlette.requests import Request

from nephthys.api.access import holds_key
from nephthys.api.middleware import bearer_credentials

# What a refused client is told to wait: streams of a few seconds are the common case.
RETRY_AFTER_SECONDS = 5


class StreamSlots:
    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self._held: Counter[str] = Counter()

    @property
    def running(self) -> int:
        return sum(self._held.values())

    def take(self, client: str) -> Callable[[], None] | None:
        """A slot for ``client``'s stream, as the function that gives it back; None when none is free."""
        if self.running >= self.total or self._held[client] >= self.per_client:
            return None
        self._held[client] += 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if given_back:
                return
            given_back = True
            self._held[client] -= 1
            if not self._held[client]:
                del self._held[client]

        return give_back


def slots_of(request: Request) -> StreamSlots:
    """The service's one StreamSlots, made from its settings on first use."""
    state = request.app.state
    slots = getattr(state, "stream_slots", None)
    if slots is None:
        settings = state.settings
        slots = state.stream_slots = StreamSlots(
            settings.api_max_streams, settings.api_max_streams_per_client
        )
    return slots


def client_of(request: Request) -> str:
    """Who a stream counts against: the key a request presented (hashed), else its address."""
    credentials = bearer_credentials(request.scope) if holds_key(request) else None
    if credentials is not None:
        return "key:" + hashlib.sha256(credentials.encode()).hexdigest()[:32]
    return "address:" + (request.client.host if request.client else "?")
