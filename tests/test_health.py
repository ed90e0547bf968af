"""/health over real HTTP, and /slack/events while Slack is off."""


async def test_health_reports_the_database(serve):
    async with serve() as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"healthy": True, "slack": False, "database": True}


async def test_slack_events_answer_503_while_slack_is_off(serve):
    async with serve() as client:
        response = await client.post("/slack/events", content=b"{}")
    assert response.status_code == 503
    assert response.json() == {"error": "slack_disabled"}
