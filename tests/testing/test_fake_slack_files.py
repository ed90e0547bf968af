"""The fake Slack's external file upload flow answers like Slack: slack_sdk's files_upload_v2 works
against it, and the steps' errors have Slack's codes."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from nephthys.testing.fake_slack import FakeSlack

CHANNEL = "C0FILES001"


async def test_files_upload_v2_shares_the_file_in_the_thread():
    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.base_url)
        parent = await client.chat_postMessage(channel=CHANNEL, text="summary")
        response = await client.files_upload_v2(
            channel=CHANNEL,
            thread_ts=parent["ts"],
            content=b"\x89PNG fake",
            filename="chart.png",
            title="Chart",
        )
        file = response["file"]
        assert file["name"] == "chart.png" and file["title"] == "Chart" and file["size"] == 9
        assert slack.files[file["id"]]["content"] == b"\x89PNG fake"
        [shared] = slack.messages(CHANNEL, thread_ts=parent["ts"])
        assert shared["files"][0]["id"] == file["id"] and shared["bot_id"] == slack.bot_id
        assert [c.method for c in slack.calls if c.method.startswith("files.")] == [
            "files.getUploadURLExternal",
            "files.completeUploadExternal",
        ]


async def test_the_steps_fail_with_slacks_error_codes():
    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.base_url)
        with pytest.raises(SlackApiError) as raised:
            await client.api_call("files.getUploadURLExternal", params={"filename": "a.png"})
        assert raised.value.response["error"] == "invalid_arguments"
        # Completing a file that was never uploaded.
        url = await client.files_getUploadURLExternal(filename="a.png", length=3)
        with pytest.raises(SlackApiError) as raised:
            await client.files_completeUploadExternal(files=[{"id": url["file_id"]}], channel_id=CHANNEL)
        assert raised.value.response["error"] == "file_not_found"
        # Into a thread that does not exist.
        with pytest.raises(SlackApiError) as raised:
            await client.files_upload_v2(
                channel=CHANNEL, thread_ts="1.000001", content=b"abc", filename="b.png"
            )
        assert raised.value.response["error"] == "message_not_found"
