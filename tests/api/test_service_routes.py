"""The API token, JSON errors, /metrics and /openapi.json."""

from __future__ import annotations

import pytest

from tests.support import postgres

API_ROUTES = ["/api/stats_v2", "/api/stats", "/api/tickets?status=open", "/api/ticket?id=1", "/api/user?id=U1",
              "/api/stats/question_tags", "/api/unanswered", "/api/ticket/timeline?id=1", "/api/stats/sla",
              "/api/tickets?sla=at_risk"]  # fmt: skip


@pytest.mark.parametrize("path", API_ROUTES)
async def test_with_a_token_every_api_route_requires_it(serve, path):
    async with serve(api_token="s3cret-token") as client:
        missing = await client.get(path)
        wrong = await client.get(path, headers={"Authorization": "Bearer s3cret-tokeX"})
        not_bearer = await client.get(path, headers={"Authorization": "s3cret-token"})
        right = await client.get(path, headers={"Authorization": "Bearer s3cret-token"})
    for refused in (missing, wrong, not_bearer):
        assert refused.status_code == 401
        assert refused.json()["error"] == "unauthorized"
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code in (200, 404)  # /api/ticket?id=1 and /api/user: nothing there yet
    assert right.status_code != 401


async def test_health_metrics_and_the_description_stay_open_with_a_token(serve):
    async with serve(api_token="s3cret-token") as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 200


async def test_without_a_token_the_api_is_open(serve):
    async with serve() as client:
        response = await client.get("/api/stats_v2", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 200


async def test_unknown_paths_and_methods_answer_json(serve):
    async with serve() as client:
        unknown = await client.get("/api/nothing-here")
        wrong_method = await client.post("/api/stats_v2")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "not_found"})
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"error": "method_not_allowed"})
    assert "GET" in wrong_method.headers["allow"]


async def test_a_database_that_goes_away_is_a_json_503(serve, db_url, make_unreachable_database_url):
    import httpx

    from tests.conftest import make_app, make_settings
    from tests.support.server import running

    url = make_unreachable_database_url
    app = make_app(make_settings(database_url=url))
    async with running(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for path in ["/api/stats_v2", "/api/stats", "/api/tickets?status=open", "/api/ticket?id=1",
                     "/api/user?id=U1", "/metrics"]:  # fmt: skip
            response = await client.get(path)
            assert response.status_code == 503, path
            assert response.json() == {"error": "database_unavailable"}, path


@pytest.fixture
def make_unreachable_database_url() -> str:
    from tests.support.server import free_port

    return f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"


async def test_metrics_count_requests_per_route_and_show_the_pool_and_tickets(serve, db_url):
    from tests.api.data import add_ticket, add_user, database_now

    author = await add_user(db_url, "UAUTHOR")
    await add_ticket(db_url, opened_by=author, created_at=await database_now(db_url))
    async with serve() as client:
        await client.get("/api/stats_v2")
        await client.get("/api/stats_v2")
        await client.get("/api/ticket?id=oops")
        await client.get("/no/such/path/12345")
        assert (await client.get("/static/dashboard.js")).status_code == 200
        await client.get("/static/no-such-file-12345.js")
        text = (await client.get("/metrics")).text
    assert 'nephthys_http_requests_total{method="GET",route="/api/stats_v2",status="200"} 2.0' in text
    assert 'nephthys_http_requests_total{method="GET",route="/api/ticket",status="400"} 1.0' in text
    assert 'route="unmatched"' in text and "/no/such/path" not in text  # labels stay few
    # The dashboard's files share one label of their own, found or not.
    assert 'nephthys_http_requests_total{method="GET",route="/static/{path}",status="200"} 1.0' in text
    assert 'nephthys_http_requests_total{method="GET",route="/static/{path}",status="404"} 1.0' in text
    assert 'route="unmatched",status="200"' not in text and "no-such-file" not in text
    assert (
        'nephthys_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/stats_v2"}' in text
    )
    assert 'nephthys_tickets{status="open"} 1.0' in text
    assert 'nephthys_tickets{status="closed"} 0.0' in text
    assert "nephthys_db_pool_connections{state=" in text and "nephthys_db_pool_size " in text


async def test_metrics_labels_stay_few_whatever_methods_clients_send(serve):
    """Issue 18: the method label took whatever method a client sent, a new series each."""
    import re

    odd = ["PROPFIND", "MKCOL", "LOCK", "UNLOCK", "COPY", "MOVE", "REPORT", "PURGE", "SEARCH", "LINK", "UNLINK",
           "SUBSCRIBE", "NOTIFY", "BIND", "REBIND", "MKCALENDAR", "CHECKOUT", "MERGE", "ACL", "QUERY", "SOURCE"]  # fmt: skip
    async with serve() as client:
        for method in odd:
            for path in ("/api/stats_v2", "/no/such/path"):
                response = await client.request(method, path)
                assert response.status_code < 500
        await client.request("OPTIONS", "/api/stats_v2")
        text = (await client.get("/metrics")).text
    methods = set(re.findall(r'method="([^"]*)"', text))
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}, methods
    assert 'nephthys_http_requests_total{method="other",route="/api/stats_v2",status="405"}' in text
    assert {"OPTIONS", "other"} <= methods


async def test_openapi_describes_every_route(serve):
    async with serve() as client:
        document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) >= {
        "/api/stats_v2", "/api/stats", "/api/tickets", "/api/ticket", "/api/user", "/api/stats/question_tags",
        "/api/stats/feedback", "/api/stats/range", "/api/stats/daily", "/api/stats/distribution",
        "/health", "/metrics", "/openapi.json", "/api/ticket/timeline", "/api/stats/sla",
    }  # fmt: skip
    parameters = {p["name"] for p in document["paths"]["/api/tickets"]["get"]["parameters"]}
    assert parameters == {"status", "waiting_on", "sla", "since", "after", "until", "before", "limit",
                          "cursor"}  # fmt: skip
    ticket = document["components"]["schemas"]["Ticket"]
    assert ticket["required"] == ["id", "title", "description", "status", "opened_by", "closed_by",
                                  "assigned_to", "reopened_by", "tags", "team_tags", "created_at", "closed_at",
                                  "message_ts", "waiting_on", "waiting_since", "first_response_minutes",
                                  "resolution_minutes"]  # fmt: skip
    assert document["components"]["schemas"]["User"]["required"] == ["id", "slack_id", "username"]


async def test_with_descriptions_for_key_holders_the_document_says_a_ticket_may_lack_one(serve):
    async with serve(api_descriptions="keys") as client:
        document = (await client.get("/openapi.json")).json()
    assert "description" not in document["components"]["schemas"]["Ticket"]["required"]
    assert "description" in document["components"]["schemas"]["Ticket"]["properties"]


async def test_the_description_is_valid_openapi_and_answers_match_its_schemas(serve, db_url):
    import jsonschema
    from openapi_spec_validator import validate

    from tests.api.data import add_tag, add_ticket, add_user, database_now

    now = await database_now(db_url)
    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    ticket_id = await add_ticket(db_url, opened_by=author, created_at=now, status="CLOSED", assigned_to=helper,
                                 assigned_at=now, closed_by=helper, closed_at=now)  # fmt: skip
    await add_ticket(db_url, opened_by=author, created_at=now)
    await add_tag(db_url, "infra", ticket_id)
    async with serve(slack_help_channel="C0HELP0001") as client:
        # Waits and minutes as the lifecycle writes them (after the service's start, which folds
        # these event-less tickets' timelines).
        await postgres.execute(
            db_url,
            """UPDATE "Ticket" SET "waitingOn" = CASE WHEN status = 'OPEN' THEN 'HELPERS'::"WaitingOn" END,
                   "waitingSince" = CASE WHEN status = 'OPEN' THEN "createdAt" END,
                   "firstResponseMinutes" = CASE WHEN status = 'CLOSED' THEN 0.5 END,
                   "resolutionMinutes" = CASE WHEN status = 'CLOSED' THEN 3 END""",
        )
        document = (await client.get("/openapi.json")).json()
        validate(document)

        def check(body, schema: dict) -> None:
            jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(body)

        def ref(name: str) -> dict:
            return {"$ref": f"#/components/schemas/{name}"}

        check((await client.get("/api/stats_v2")).json(), ref("StatsV2"))
        check((await client.get("/api/stats")).json(), ref("LegacyStats"))
        check(
            (await client.get("/api/tickets?since=2000-01-01")).json(),
            {"type": "array", "items": ref("Ticket")},
        )
        check((await client.get(f"/api/ticket?id={ticket_id}")).json(), ref("Ticket"))
        waiting = (await client.get("/api/tickets?waiting_on=helpers")).json()
        assert [ticket["waiting_on"] for ticket in waiting] == ["helpers"]
        check(waiting, {"type": "array", "items": ref("Ticket")})
        check((await client.get("/api/user?id=UHELPER")).json(), ref("UserSummary"))
        check((await client.get("/api/stats/range?since=2000-01-01")).json(), ref("RangeStats"))
        check((await client.get("/api/stats/range")).json(), ref("RangeStats"))
        check((await client.get("/api/stats/daily")).json(), ref("DailyStats"))
        check((await client.get("/api/stats/daily?tz=Asia/Kathmandu")).json(), ref("DailyStats"))
        for metric in ("hang", "resolution"):
            check((await client.get(f"/api/stats/distribution?metric={metric}")).json(), ref("Distribution"))
            check(
                (await client.get(f"/api/stats/distribution?metric={metric}&until=2000-01-01")).json(),
                ref("Distribution"),
            )
        check((await client.get("/health")).json(), ref("Health"))
        for error in ["/api/ticket", "/api/ticket?id=x", "/api/ticket?id=999", "/api/tickets", "/api/user",
                      "/api/tickets?waiting_on=nobody"]:  # fmt: skip
            check((await client.get(error)).json(), ref("Error"))
