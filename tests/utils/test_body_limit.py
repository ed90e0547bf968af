"""The body limit: 413 over Content-Length or over the bytes streamed, on every route, without
reading the body whole."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from nephthys.utils.body_limit import DISCARD_BYTES, MAX_BODY_BYTES, BodySizeLimitMiddleware
from tests.support.server import running

CHUNK = 64 * 1024


async def read_body_app(scope, receive, send):
    """An app that reads the whole body, then answers 200 with its length."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


async def call(app, *, headers: list[tuple[bytes, bytes]], chunks: int, chunk: bytes = b"x" * CHUNK):
    """Drive ``app`` with a streamed body of ``chunks`` chunks; returns (status, chunks pulled)."""
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < chunks}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/slack/events", "headers": headers}
    await app(scope, receive, send)
    return sent[0]["status"], pulled


async def test_a_declared_length_over_the_limit_is_refused_before_the_app_reads_anything():
    app = BodySizeLimitMiddleware(read_body_app)
    status, pulled = await call(
        app, headers=[(b"content-length", str(100 * 1024 * 1024).encode())], chunks=1600
    )
    assert (status, pulled) == (413, 0)


async def test_a_chunked_body_is_refused_after_the_limit_not_read_whole():
    app = BodySizeLimitMiddleware(read_body_app)
    total_chunks = 1600  # 100 MB
    status, pulled = await call(app, headers=[(b"transfer-encoding", b"chunked")], chunks=total_chunks)
    assert status == 413
    # The app is refused at the chunk over the limit; then DISCARD_BYTES more are read and
    # dropped (so the client can read the 413), and no more.
    assert pulled == MAX_BODY_BYTES // CHUNK + 1 + DISCARD_BYTES // CHUNK


async def test_a_body_within_the_limit_passes():
    app = BodySizeLimitMiddleware(read_body_app)
    status, pulled = await call(app, headers=[], chunks=MAX_BODY_BYTES // CHUNK)
    assert (status, pulled) == (200, MAX_BODY_BYTES // CHUNK)


async def test_every_route_of_the_app_refuses_a_large_body_with_413(serve):
    big = b"x" * (MAX_BODY_BYTES + 1)
    async with serve() as client:
        for path in ("/slack/events", "/api/tickets", "/health", "/no/such/route"):
            response = await client.post(path, content=big, headers={"Content-Type": "application/json"})
            assert response.status_code == 413, (path, response.text)
            assert response.json()["error"] == "payload_too_large"
        assert (await client.get("/health")).status_code == 200


async def test_a_declared_length_beyond_the_discard_bound_is_not_read_at_all():
    app = BodySizeLimitMiddleware(read_body_app)
    declared = MAX_BODY_BYTES + DISCARD_BYTES + 1
    status, pulled = await call(app, headers=[(b"content-length", str(declared).encode())], chunks=1600)
    assert (status, pulled) == (413, 0)


async def echo_length(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


async def test_a_client_posting_5_mb_in_one_go_reads_the_413_not_a_reset(serve):
    """httpx (like requests) writes the whole body before it reads the answer, with no
    ``Expect: 100-continue``: the server must read the rest and drop it, or the client's kernel
    gets a reset and the 413 with it."""
    five_mb = b"x" * (5 * 1024 * 1024)
    async with serve() as client:
        for path in ("/api/tickets", "/slack/events"):
            response = await client.post(path, content=five_mb, headers={"Content-Type": "application/json"})
            assert response.status_code == 413, (path, response.text)
            assert response.json() == {"error": "payload_too_large", "max_bytes": MAX_BODY_BYTES}
        assert (await client.get("/health")).status_code == 200


async def test_a_chunked_5_mb_upload_reads_the_413_too():
    app = Starlette(routes=[Route("/", echo_length, methods=["POST"])], middleware=[])
    app.add_middleware(BodySizeLimitMiddleware)

    async def five_mb():
        for _ in range(80):
            yield b"x" * CHUNK

    async with running(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/", content=five_mb())
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"
        assert (await client.post("/", content=b"small")).text == "5"
