"""The body limit: 413 over Content-Length or over the bytes streamed, on every route, without
reading the body whole."""

from __future__ import annotations

from nephthys.utils.body_limit import MAX_BODY_BYTES, BodySizeLimitMiddleware

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
    assert pulled == MAX_BODY_BYTES // CHUNK + 1


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
