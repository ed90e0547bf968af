"""The answers of tickets from before the memory (``memory-answers``): read back from Slack.

A ticket opened before migration 0024 got its memory row from the bulk reindex
(nephthys/memory/reindex.py) without an answer: its helpers' messages were never stored, so it
was never offered as a similar past ticket. Such a row's thread is to be read ("answerFetch":
'DUE' while the ticket is closed, 'WAITING' while not). Every ``EVERY_SECONDS`` (an interval job
under its advisory lock), for at most ``per_run`` due ones, newest ticket first (the most useful to
the next asker):

- **Claim.** One statement claims the next due ticket ("answerFetchClaimedAt", at the job's clock;
  ``FOR UPDATE SKIP LOCKED``), through the partial index of the rows still due: a second instance,
  a rerun or an overlapping run never reads the same thread, and with nothing due a run is one
  look at an empty index. A claim older than ``CLAIM_LEASE`` is a run that died: taken again.
- **Read.** The question's whole thread (``conversations.replies``, every page).
- **Pick,** with the lifecycle's rule for a live reply (nephthys/tickets/replies.py, the message
  handler of nephthys/slack/events.py): the last message before the ticket closed ("closedAt")
  written by a helper ("User".helper) who is not the asker, a person's message (not a bot's, not a
  macro such as ``?resolve``), with text. Messages written while the ticket was closed before a
  reopen are not told apart from the others (the timeline keeps no texts).
- **Record** it through nephthys/memory/index.py (``answered`` then ``closed_or_reopened``, as
  the lifecycle does), under the ticket's row lock: an answer a helper wrote live meanwhile wins.
  The row is then done; so is a thread with no helper's answer, or one that is gone: none is
  read again.
- **Slack's limits.** ``conversations.replies`` is Tier 3 (about 50 a minute, shared with
  ``stale-tickets`` and ``asker-follow-up``): one thread every ``interval_seconds``, at most
  ``per_run`` a run (about 20 a minute); a 429 is waited out by slack_sdk's rate-limit handler, and
  one it gave up on (or Slack failing) releases the claim and ends the run: the ticket is read by a
  later run. Any other refusal (a missing scope, the bot not in the channel) releases it too, and
  the run fails, loudly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError

from nephthys.memory import index as memory_index
from nephthys.slack.client import error_code, transient
from nephthys.slack.events import PERSON_SUBTYPES, from_a_bot
from nephthys.slack.instants import slack_instant
from nephthys.slack.macros import parse_macro
from nephthys.tasks.schedule import describe_interval
from nephthys.tasks.service_job import ServiceJob

NAME = "memory-answers"
EVERY_SECONDS = 60
PER_RUN = 20
# Tier 3 allows about 50 conversations.replies a minute; one every 1.5 s, 20 a run each minute,
# leaves room for the other jobs that read threads.
INTERVAL_SECONDS = 1.5
CLAIM_LEASE = timedelta(minutes=15)
GONE = {"thread_not_found", "message_not_found"}


@dataclass(frozen=True)
class Answer:
    """The helper's message that closed a ticket."""

    helper_id: int
    text: str
    ts: str
    at: datetime | None


def _candidates(ctx, thread: list[dict], *, question_ts: str, asker: str, closed_at: datetime | None):
    """The thread's person messages that could be a helper's answer, by the rule in the docstring
    (but for who is a helper), in time order."""
    found = {}
    for message in thread:
        ts, user, text = message.get("ts"), message.get("user"), message.get("text")
        if not isinstance(ts, str) or ts == question_ts or not isinstance(user, str) or user == asker:
            continue
        if message.get("subtype") not in PERSON_SUBTYPES or from_a_bot(ctx, message):
            continue
        if not isinstance(text, str) or not text.strip() or parse_macro(text) is not None:
            continue
        at = slack_instant(ts)
        if at is None:
            continue
        # "closedAt" keeps milliseconds: compare the message's instant at that precision.
        if closed_at is not None and at.replace(microsecond=at.microsecond // 1000 * 1000) > closed_at:
            continue
        found[ts] = (at, user, text)  # a page repeating a message keeps it once
    return sorted(found.items(), key=lambda item: item[1][0])


@dataclass
class MemoryAnswers(ServiceJob):
    per_run: int = PER_RUN
    interval_seconds: float = INTERVAL_SECONDS

    def schedule(self) -> str:
        return (
            f"every {describe_interval(EVERY_SECONDS)}: at most {self.per_run} threads of closed tickets "
            "from before the memory, for the answer that closed them"
        )

    async def run(self, dry_run: bool = False) -> str:
        """Read the next due threads; returns what it did (or, dry, what it would read)."""
        now = self.now()
        stale_before = now - CLAIM_LEASE
        if dry_run:
            due = await memory_index.past_answers_due(
                self.ctx.sessions, stale_before=stale_before, limit=self.per_run
            )
            listed = ", ".join(f"#{row.id}" for row in due)
            return f"would read the threads of {listed}" if due else "nothing due"
        recorded = empty = kept = 0
        stopped = ""
        for index in range(self.per_run):
            if index and self.interval_seconds:
                await asyncio.sleep(self.interval_seconds)
            claimed = await memory_index.claim_past_answer(
                self.ctx.sessions, now=now, stale_before=stale_before
            )
            if claimed is None:
                break
            try:
                answer = await self._read(claimed)
            except Exception as error:
                await memory_index.release_past_answer(
                    self.ctx.sessions, ticket_id=claimed.id, claimed_at=claimed.claimed_at
                )
                if not transient(error):
                    raise
                stopped = f"; stopped at ticket #{claimed.id} ({_describe(error)}): a later run reads it"
                break
            if answer is None:
                await memory_index.past_answer_done(self.ctx.sessions, ticket_id=claimed.id)
                empty += 1
            elif await memory_index.record_past_answer(
                self.ctx.sessions,
                ticket_id=claimed.id,
                helper_id=answer.helper_id,
                answer=answer.text,
                ts=answer.ts,
                at=answer.at,
            ):
                recorded += 1
            else:
                kept += 1
        else:
            stopped = " (more wait for the next run)"
        kept_note = f", {kept} answered live meanwhile" if kept else ""
        return f"recorded {recorded} answers, {empty} threads without one{kept_note}{stopped}"

    async def _read(self, claimed) -> Answer | None:
        """The helper's answer that closed the claimed ticket, read from its thread; None when the
        thread has none or is gone."""
        ctx = self.ctx
        try:
            thread = await ctx.client.thread_messages(ctx.channels.help, claimed.msg_ts)
        except SlackApiError as error:
            if error_code(error) in GONE:
                return None
            raise
        candidates = _candidates(
            ctx, thread, question_ts=claimed.msg_ts, asker=claimed.asker_slack_id, closed_at=claimed.closed_at
        )
        helpers = await memory_index.helpers_among(
            ctx.sessions, sorted({user for _, (_, user, _) in candidates})
        )
        for ts, (at, user, text) in reversed(candidates):
            if user in helpers:
                return Answer(helper_id=helpers[user], text=text, ts=ts, at=at)
        return None


def _describe(error: BaseException) -> str:
    if isinstance(error, SlackApiError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error_code(error)!r}"
    return type(error).__name__
