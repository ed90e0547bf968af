"""GET /metrics: Prometheus text — requests and latencies per route, the database pool, tickets by status.

**Bound**: every label value comes from a fixed set, never from what a client sends, so the
series stay few (enforced in :meth:`MetricsMiddleware.__call__`, where they are made): ``route``
is a route's path or ``unmatched``, ``method`` one of :data:`METHODS` or ``other``, ``status`` a
code the app itself answered with. At most (routes + 1) × 8 × the app's status codes request
counters and (routes + 1) × 8 latency histograms.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCOPE_KEY = "nephthys.metrics"
UNMATCHED = "unmatched"
# The methods counted by name; any other a client sends is counted as OTHER_METHOD.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
TICKETS_BY_STATUS = text('SELECT open, "inProgress" AS in_progress, closed FROM "TicketTotals" WHERE id = 1')


class Metrics:
    """One app's metrics, in a registry of its own (several apps may live in one process, as in tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "nephthys_http_requests",
            "HTTP requests answered, by route template, method and status code",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nephthys_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of the body), by route template",
            ["route", "method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.pool = Gauge(
            "nephthys_db_pool_connections",
            "Database connections of the pool, by state",
            ["state"],
            registry=self.registry,
        )
        self.pool_size = Gauge(
            "nephthys_db_pool_size", "Configured size of the database pool", registry=self.registry
        )
        self.tickets = Gauge(
            "nephthys_tickets",
            "Tickets by status (exact; trigger-kept totals)",
            ["status"],
            registry=self.registry,
        )


def _route_template(scope: Scope) -> str:
    """The path of the route that matches, so labels stay few whatever paths clients ask for.

    Every path under a mount (the dashboard's ``/static/…`` files) shares the mount's one
    template, ``/static/{path}``, found or not: one label per mount, whatever is asked.
    """
    app = scope.get("app")
    path = scope.get("path", "")
    for route in getattr(getattr(app, "router", None), "routes", ()):
        if isinstance(route, Mount):
            if path.startswith(route.path + "/"):
                return route.path_format
        elif getattr(route, "path", None) == path:
            return path
    return UNMATCHED


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[SCOPE_KEY] = self.metrics
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route, method = _route_template(scope), scope.get("method", "")
            if method not in METHODS:
                method = OTHER_METHOD
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)


async def metrics(request: Request) -> Response:
    collected: Metrics | None = request.scope.get(SCOPE_KEY)
    if collected is None:
        collected = Metrics()  # served without the middleware: still a valid (empty) exposition
    pool = request.app.state.engine.pool
    collected.pool_size.set(pool.size())
    collected.pool.labels("checked_out").set(pool.checkedout())
    collected.pool.labels("idle").set(pool.checkedin())
    collected.pool.labels("overflow").set(max(pool.overflow(), 0))
    async with request.app.state.engine.connect() as connection:
        row = (await connection.execute(TICKETS_BY_STATUS)).one_or_none()
    for status in ("open", "in_progress", "closed"):
        collected.tickets.labels(status).set(getattr(row, status) if row else 0)
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)


route = Route("/metrics", metrics, methods=["GET"])
