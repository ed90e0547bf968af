"""Generated requests (paths, query strings, headers) against the running API: never a 5xx, always JSON.

The server runs in a thread with its own event loop, so hypothesis drives it
with a plain synchronous client.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import orjson
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.data import add_tag, add_ticket, add_user, database_now
from tests.conftest import make_app, make_settings
from tests.support.server import free_port

TOKEN = "fuzz-token"
PATHS = ["/api/stats_v2", "/api/stats", "/api/tickets", "/api/ticket", "/api/user", "/api/stats/question_tags",
         "/api/stats/range", "/api/stats/daily", "/api/stats/distribution",
         "/health", "/metrics", "/openapi.json", "/api/", "/api/tickets/", "/api/nothing", "/", "/api/ticket/1",
         "/api/unanswered"]  # fmt: skip
PARAMETERS = ["status", "since", "after", "until", "before", "limit", "cursor", "id", "ID", "format", "",
              "metric", "tz"]  # fmt: skip
INTERESTING = [
    "open", "OPEN", "closed", "in_progress", "In_Progress", "pending", "", " ", "1", "0", "-1", "2147483647",
    "2147483648", "99999999999999999999", "1e9", "0x10", "NaN", "2026-01-01", "2026-01-31T12:00:00",
    "2026-01-31T12:00:00Z", "2026-01-31T12:00:00+05:30", "0001-01-01", "9999-12-31T23:59:59.999999-23:59",
    "2026-02-30", "WzE3NjM4Mzc0MjkxODUwMDAsMjZd", "WzEsMiwzXQ", "W10", "%", "%zz", "\x00", "\n", "U123",
    "x" * 10_000, "١٢", "５", "'; DROP TABLE \"Ticket\"; --",
    "hang", "resolution", "UTC", "Europe/Berlin", "America/Santiago", "../etc/passwd", "/etc/localtime",
    "America", "2025-01-01", "1900-01-01", "2026-03-08",
]  # fmt: skip

values = st.one_of(
    st.sampled_from(INTERESTING), st.text(max_size=40), st.text(st.characters(codec="utf-8"), max_size=300)
)
queries = st.lists(
    st.tuples(st.one_of(st.sampled_from(PARAMETERS), st.text(max_size=10)), values), max_size=6
)
# h11 refuses header values with surrounding whitespace before they leave the client.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(str.strip)
# Mostly the right token, so most requests reach the routes behind it.
AUTHORIZATIONS = [f"Bearer {TOKEN}"] * 12 + [
    "Bearer",
    f"Bearer {TOKEN}x",
    f"bearer {TOKEN}",
    "",
    "Basic Zm9vOmJhcg==",
]
headers = st.fixed_dictionaries(
    {"Authorization": st.sampled_from(AUTHORIZATIONS)},
    optional={
        "X-Api-Token": header_text,
        "Accept": header_text,
        "X-Forwarded-For": header_text,
        "Cookie": header_text,
        "If-None-Match": st.one_of(st.just("*"), header_text),
    },
)
raw_query = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80)


@contextlib.contextmanager
def server_in_thread(app) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
async def seeded_url(db_url: str) -> str:
    now = await database_now(db_url)
    author = await add_user(db_url, "U123")
    helper = await add_user(db_url, "UHELPER", helper=True)
    first = await add_ticket(db_url, opened_by=author, created_at=now - timedelta(hours=2))
    await add_ticket(db_url, opened_by=author, created_at=now - timedelta(days=3), status="CLOSED",
                     assigned_to=helper, assigned_at=now - timedelta(days=3) + timedelta(minutes=9),
                     closed_by=helper, closed_at=now - timedelta(days=2))  # fmt: skip
    await add_tag(db_url, "infra", first)
    return db_url


def test_no_generated_request_gets_a_5xx(seeded_url):
    app = make_app(make_settings(database_url=seeded_url, api_token=TOKEN, slack_help_channel="C0HELP0001"))
    sent = reached = 0
    with server_in_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:

        @settings(
            max_examples=1100,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(
            method=st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "DELETE"]),
            path=st.sampled_from(PATHS),
            query=queries,
            raw=st.one_of(st.none(), raw_query),
            request_headers=headers,
        )
        def one_request(method, path, query, raw, request_headers):
            nonlocal sent, reached
            url = httpx.URL(path, params=query) if raw is None else httpx.URL(f"{path}?{raw}")
            response = client.request(method, url, headers=request_headers)
            sent += 1
            reached += response.status_code != 401
            assert response.status_code < 500, (method, str(url), response.status_code, response.text[:300])
            if response.status_code == 304:  # If-None-Match: * (or a lucky tag)
                assert response.content == b"" and response.headers["etag"]
            elif response.is_redirect:  # /api/tickets/ -> /api/tickets (Starlette's trailing-slash redirect)
                assert response.headers["location"]
            # /metrics answers Prometheus text and / the dashboard's HTML; everything else is JSON.
            elif method != "HEAD" and not (path in ("/metrics", "/") and response.status_code == 200):
                assert response.headers["content-type"].startswith("application/json"), (
                    str(url),
                    response.text,
                )
                orjson.loads(response.content)

        one_request()
    assert sent >= 1000
    assert reached >= sent * 0.4
