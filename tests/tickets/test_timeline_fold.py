"""The fold of a ticket's timeline into whom it waits on and its response spans (pure: no database)."""

from datetime import UTC, datetime, timedelta

from nephthys.database.models import TicketEventKind as K
from nephthys.database.models import TicketSpanKind as S
from nephthys.database.models import WaitingOn
from nephthys.tickets.timeline import LoggedEvent, Span, fold

ASKER, HELPER, OTHER = 1, 2, 3
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def log(*events: tuple[K, float, int | None]) -> list[LoggedEvent]:
    return [LoggedEvent(kind, at(minute), actor) for kind, minute, actor in events]


def test_a_new_question_waits_on_the_helpers_with_its_clocks_running():
    timeline = fold(log((K.OPENED, 0, ASKER)))
    assert (timeline.waiting_on, timeline.waiting_since, timeline.closed) == (WaitingOn.HELPERS, at(0), False)
    assert timeline.spans == [
        Span(S.FIRST_RESPONSE, at(0), None, None),
        Span(S.RESOLUTION, at(0), None, None),
    ]


def test_a_helper_reply_makes_it_wait_on_the_asker_and_the_asker_back_on_the_helpers():
    events = log((K.OPENED, 0, ASKER), (K.ASKER_MESSAGE, 5, ASKER), (K.HELPER_MESSAGE, 10, HELPER))
    timeline = fold(events)
    assert (timeline.waiting_on, timeline.waiting_since) == (WaitingOn.ASKER, at(10))
    timeline = fold(
        events + log((K.OTHER_MESSAGE, 12, OTHER), (K.ASKER_MESSAGE, 20, ASKER), (K.ASKER_MESSAGE, 25, ASKER))
    )
    # Others change nothing; the wait began at the first of the asker's two messages.
    assert (timeline.waiting_on, timeline.waiting_since) == (WaitingOn.HELPERS, at(20))
    assert Span(S.NEXT_RESPONSE, at(20), None, None) in timeline.spans


def test_response_and_resolution_spans_skip_the_askers_turns_and_closed_time():
    timeline = fold(
        log(
            (K.OPENED, 0, ASKER),
            (K.HELPER_MESSAGE, 10, HELPER),  # first response: 10
            (K.ASSIGNED, 10, HELPER),
            (K.ASKER_MESSAGE, 30, ASKER),
            (K.HELPER_MESSAGE, 45, HELPER),  # next response: 15
            (K.CLOSED, 60, HELPER),
            (K.REOPENED, 100, ASKER),
            (K.HELPER_MESSAGE, 104, HELPER),  # next response: 4
            (K.CLOSED, 110, HELPER),
        )
    )
    assert timeline.closed and timeline.waiting_on is None and timeline.waiting_since is None
    assert timeline.spans == [
        Span(S.FIRST_RESPONSE, at(0), at(10), HELPER),
        Span(S.NEXT_RESPONSE, at(30), at(45), HELPER),
        Span(S.NEXT_RESPONSE, at(100), at(104), HELPER),
        Span(S.RESOLUTION, at(0), at(10), None),
        Span(S.RESOLUTION, at(30), at(45), None),
        Span(S.RESOLUTION, at(100), at(104), None),
    ]


def test_closing_before_any_answer_keeps_the_first_response_clock_and_drops_a_next_response():
    timeline = fold(log((K.OPENED, 0, ASKER), (K.CLOSED, 5, ASKER)))
    assert timeline.spans == [
        Span(S.FIRST_RESPONSE, at(0), None, None),
        Span(S.RESOLUTION, at(0), at(5), None),
    ]
    timeline = fold(
        log(
            (K.OPENED, 0, ASKER),
            (K.HELPER_MESSAGE, 1, HELPER),
            (K.ASKER_MESSAGE, 2, ASKER),
            (K.CLOSED, 3, ASKER),
        )
    )
    assert [span.kind for span in timeline.spans] == [S.FIRST_RESPONSE, S.RESOLUTION, S.RESOLUTION]


def test_a_backfilled_timeline_reads_its_assignment_as_the_first_answer():
    timeline = fold(log((K.OPENED, 0, ASKER), (K.ASSIGNED, 30, HELPER), (K.CLOSED, 40, HELPER)))
    assert timeline.spans[0] == Span(S.FIRST_RESPONSE, at(0), at(30), HELPER)
    # With messages logged, an assignment alone is not an answer.
    timeline = fold(log((K.OPENED, 0, ASKER), (K.ASSIGNED, 30, HELPER), (K.HELPER_MESSAGE, 35, HELPER)))
    assert timeline.spans[0] == Span(S.FIRST_RESPONSE, at(0), at(35), HELPER)


def test_a_nudge_belongs_to_the_wait_on_the_asker_it_came_in():
    answered = log((K.OPENED, 0, ASKER), (K.HELPER_MESSAGE, 10, HELPER), (K.NUDGED, 3000, None))
    timeline = fold(answered)
    assert (timeline.waiting_on, timeline.waiting_since, timeline.nudged_at) == (
        WaitingOn.ASKER,
        at(10),
        at(3000),
    )
    # Changes nothing else: the spans are those of the log without it.
    assert timeline.spans == fold(answered[:2]).spans
    # A helper writing again keeps the wait and its nudge; a second nudge does not move it.
    assert fold(answered + log((K.HELPER_MESSAGE, 3100, HELPER), (K.NUDGED, 3200, None))).nudged_at == at(
        3000
    )
    # The asker's answer (a message, or "I still need help") ends the wait, and with it the nudge; the
    # next wait on the asker has none until it is nudged itself.
    for after in (
        log((K.ASKER_MESSAGE, 3100, ASKER)),
        log((K.ASKER_MESSAGE, 3100, ASKER), (K.HELPER_MESSAGE, 3200, HELPER)),
        log((K.CLOSED, 3100, ASKER)),
        log((K.CLOSED, 3100, ASKER), (K.REOPENED, 3200, ASKER), (K.HELPER_MESSAGE, 3300, HELPER)),
    ):
        assert fold(answered + after).nudged_at is None
    # A nudge while the ticket waits on the helpers, or is closed, is no nudge of theirs.
    assert fold(log((K.OPENED, 0, ASKER), (K.NUDGED, 3000, None))).nudged_at is None
    assert fold(answered[:2] + log((K.CLOSED, 20, HELPER), (K.NUDGED, 3000, None))).nudged_at is None
