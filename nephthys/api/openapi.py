"""GET /openapi.json: an OpenAPI 3.1 description of every route, its parameters, answers and errors."""

from __future__ import annotations

import copy
import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.responses import json_response
from nephthys.api.status_case import UPPER
from nephthys.database.models import TicketEventKind

NUMBER_OR_NULL = {"type": ["number", "null"]}
COUNT = {"type": "integer", "minimum": 0}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _ref_or_null(name: str) -> dict:
    return {"oneOf": [_ref(name), {"type": "null"}]}


def _object(properties: dict[str, Any], **extra: Any) -> dict:
    return {"type": "object", "required": list(properties), "properties": properties, **extra}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


def _query(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


# What the query parameters enforce (nephthys/api/params.py), written as JSON Schema so that a client,
# and a schema-driven test, knows which values are answered and which are a 400. Rules across
# parameters (a filter too broad, `since` after `until`) cannot be stated per parameter: the 400
# answers and the operations' descriptions say them.
_NO_CONTROL = "[^\\x00-\\x1f\\x7f]"
# Values are trimmed of whitespace (but a control character, tab and newline among them, is a 400),
# and a blank value counts as not given.
_SPACE = "[^\\S\\x00-\\x1f\\x7f]*"


def _blank_or(pattern: str) -> str:
    return f"^{_SPACE}({pattern})?{_SPACE}$"


_YEAR = "[12][0-9]{3}"  # 1000-2999: no instant near the ends of Python's range, which would overflow
# Every day of every month but 29 February, so that any date the pattern allows exists.
_MONTH_DAY = "(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31"
_TIME = "T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?"
_OFFSET = "Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]"
DATE = {
    "type": "string",
    "pattern": _blank_or(f"{_YEAR}-({_MONTH_DAY})({_TIME}({_OFFSET})?)?"),
    "examples": ["2026-01-31", "2026-01-31T12:00:00Z"],
}
# A calendar day alone (/api/stats/daily); blank means not given.
DAY = {"type": "string", "pattern": _blank_or(f"{_YEAR}-({_MONTH_DAY})"), "examples": ["2026-01-31"]}
INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
# Any case; blank (`?status=`) means not given, like every blank parameter.
TICKET_STATUS = {
    "type": "string",
    "pattern": _blank_or(
        "[oO][pP][eE][nN]|[cC][lL][oO][sS][eE][dD]|[iI][nN]_[pP][rR][oO][gG][rR][eE][sS][sS]"
    ),
    "examples": ["open", "in_progress", "closed"],
}
# Any case, as status; blank means not given.
WAITING_ON = {
    "type": "string",
    "pattern": _blank_or("[hH][eE][lL][pP][eE][rR][sS]|[aA][sS][kK][eE][rR]"),
    "examples": ["helpers", "asker"],
}
# Blank counts as not given (`missing_user_id`); control characters and over 200 characters are a 400.
SLACK_USER_ID = {
    "type": "string",
    "maxLength": 200,
    "pattern": f"^{_NO_CONTROL}*[^\\s\\x00-\\x1f\\x7f]{_NO_CONTROL}*$",
    "examples": ["U0123456789"],
}
CURSOR = {"type": "string", "maxLength": 200, "pattern": _blank_or("[A-Za-z0-9_-]+")}
# Blank or with control characters (a 400), or over 200 characters: not valid.
SEARCH_WORDS = {
    "type": "string",
    "maxLength": 200,
    "pattern": f"^{_NO_CONTROL}*[^\\s\\x00-\\x1f\\x7f]{_NO_CONTROL}*$",
    "examples": ["invalid_token", "deadline extended"],
}
SEARCH_LIMIT = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 50},
        {"type": "string", "pattern": _blank_or("")},
    ]
}
PAGE_SIZE = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 1000},
        {"type": "string", "pattern": _blank_or("")},
    ]
}
USERNAME = {"type": ["string", "null"], "description": "Slack name, when known"}
LEGACY_TOP_3 = {"type": "array", "maxItems": 3, "items": _ref("LegacyLeaderboardEntry")}

COMPONENTS = {
    "schemas": {
        "Error": _object(
            {"error": {"type": "string"}},
            description="Every error: a JSON object with `error`; some add `detail` or `tip`.",
            additionalProperties=True,
        ),
        "TooManyRequests": _object(
            {
                "error": {"type": "string"},
                "detail": {"type": "string"},
                "retry_after_seconds": {"type": "integer", "minimum": 0},
            },
            description="A 429: an `Error` that also says, as the Retry-After header does, when to try again.",
            additionalProperties=True,
        ),
        "LeaderboardEntry": _object(
            {"id": {"type": "integer"}, "slack_id": {"type": "string"}, "count": COUNT, "username": USERNAME}
        ),
        "OldestUnansweredTicket": _object(
            {
                "id": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "age_minutes": {"type": "number"},
                "link": {"type": "string"},
            }
        ),
        "OverallStats": _object(
            {
                "tickets_total": COUNT,
                "tickets_open": COUNT,
                "tickets_closed": COUNT,
                "tickets_in_progress": COUNT,
                "helpers_leaderboard": {"type": "array", "items": _ref("LeaderboardEntry")},
                "mean_hang_time_minutes_unresolved": NUMBER_OR_NULL,
                "mean_hang_time_minutes_all": NUMBER_OR_NULL,
                "mean_hang_time_minutes": {
                    **NUMBER_OR_NULL,
                    "description": "Same as mean_hang_time_minutes_all",
                },
                "mean_resolution_time_minutes": NUMBER_OR_NULL,
                "oldest_unanswered_ticket": _ref_or_null("OldestUnansweredTicket"),
            }
        ),
        "TimeBoundStats": _object(
            {
                "new_tickets_total": COUNT,
                "new_tickets_now_closed": COUNT,
                "new_tickets_still_open": COUNT,
                "new_tickets_in_progress": COUNT,
                "closed_today": COUNT,
                "closed_today_from_today": COUNT,
                "assigned_today_in_progress": COUNT,
                "helpers_leaderboard": {"type": "array", "items": _ref("LeaderboardEntry")},
                "mean_hang_time_minutes_unresolved": NUMBER_OR_NULL,
                "mean_hang_time_minutes_all": NUMBER_OR_NULL,
                "mean_resolution_time_minutes": NUMBER_OR_NULL,
            }
        ),
        "StatsV2": _object(
            {
                "all_time": _ref("OverallStats"),
                "past_24h": _ref("TimeBoundStats"),
                "past_24h_previous": _ref("TimeBoundStats"),
                "past_7d": _ref("TimeBoundStats"),
                "past_7d_previous": _ref("TimeBoundStats"),
            }
        ),
        "User": _object(
            {
                "id": {"type": "integer"},
                "slack_id": {"type": "string"},
                "username": USERNAME,
            }
        ),
        "TicketEvent": _object(
            {
                "kind": {
                    "enum": [kind.value for kind in TicketEventKind],
                    "description": "What happened, as stored (upper snake case)",
                },
                "at": {"type": "string", "format": "date-time"},
                "by": _ref_or_null("User"),
            }
        ),
        "Ticket": _object(
            {
                "id": {"type": "integer"},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "status": {
                    "enum": ["open", "closed", "in_progress"],
                    "description": "Lower case by default; OPEN, CLOSED or IN_PROGRESS where the service runs "
                    "with API_STATUS_CASE=upper (this document then lists those)",
                },
                "opened_by": _ref_or_null("User"),
                "closed_by": _ref_or_null("User"),
                "assigned_to": _ref_or_null("User"),
                "reopened_by": _ref_or_null("User"),
                "tags": {"type": "array", "items": {"type": "string"}},
                "team_tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The same list as tags, under the name newer clients read",
                },
                "created_at": {"type": "string", "format": "date-time"},
                "closed_at": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "When it was closed; null when it is not",
                },
                "message_ts": {"type": "string"},
                "waiting_on": {
                    "enum": ["helpers", "asker", None],
                    "description": "Whom an open or in-progress ticket waits on: the helpers while only the "
                    "asker has spoken or the asker spoke last, the asker when a helper (or a helper's macro) "
                    "did; null when closed (or not known)",
                },
                "waiting_since": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "When the current wait began (Slack's instant of the message or action "
                    "that began it); null when waiting_on is",
                },
                "first_response_minutes": {
                    **NUMBER_OR_NULL,
                    "description": "Question to first helper message, in support minutes (SUPPORT_HOURS, "
                    "SUPPORT_HOLIDAYS, TIMEZONE); null until a helper has answered",
                },
                "resolution_minutes": {
                    **NUMBER_OR_NULL,
                    "description": "Question to the last closure in support minutes, less the time spent "
                    "waiting on the asker and closed before a reopen; null unless closed",
                },
            }
        ),
        "LegacyLeaderboardEntry": _object(
            {
                "user_id": {"type": "integer"},
                "slack_id": {"type": "string"},
                "closed_ticket_count": COUNT,
                "username": USERNAME,
            }
        ),
        "LegacyStats": _object(
            {
                "total_tickets": COUNT,
                "total_open": COUNT,
                "total_in_progress": COUNT,
                "total_closed": COUNT,
                "total_top_3_users_with_closed_tickets": LEGACY_TOP_3,
                "average_hang_time_minutes": NUMBER_OR_NULL,
                "mean_resolution_time_minutes": NUMBER_OR_NULL,
                "oldest_unanswered_ticket_age_minutes": NUMBER_OR_NULL,
                "prev_day_total": COUNT,
                "prev_day_open": COUNT,
                "prev_day_in_progress": COUNT,
                "prev_day_closed": COUNT,
                "prev_day_top_3_users_with_closed_tickets": LEGACY_TOP_3,
                "prev_day_average_hang_time_minutes": NUMBER_OR_NULL,
            }
        ),
        "UserSummary": _object(
            {"tickets_opened": COUNT, "tickets_closed": COUNT, "helper": {"type": "boolean"}}
        ),
        "RangeStats": _object(
            {
                "stats": _ref("TimeBoundStats"),
                "since": {"type": "string", "format": "date-time"},
                "until": {"type": "string", "format": "date-time"},
            },
            description="A stats_v2 window over [since, until)",
        ),
        "DailyPercentiles": _object({"p50": NUMBER_OR_NULL, "p90": NUMBER_OR_NULL, "p95": NUMBER_OR_NULL}),
        "Day": _object(
            {
                "date": {"type": "string", "format": "date"},
                "new_tickets": COUNT,
                "closed_tickets": COUNT,
                "unresolved_at_end": COUNT,
                "hang_time_minutes": _ref("DailyPercentiles"),
                "resolution_time_minutes": _ref("DailyPercentiles"),
            },
            description="One local calendar day [midnight, next midnight); see docs/api.md",
        ),
        "DailyStats": _object(
            {"tz": {"type": "string"}, "days": {"type": "array", "maxItems": 366, "items": _ref("Day")}}
        ),
        "Distribution": _object(
            {
                "metric": {"enum": ["hang", "resolution"]},
                "count": COUNT,
                "percentiles": _object({key: NUMBER_OR_NULL for key in ("p50", "p75", "p90", "p95", "p99")}),
                "buckets": {
                    "type": "array",
                    "minItems": 11,
                    "maxItems": 11,
                    "items": _object(
                        {
                            "up_to_minutes": {
                                "type": ["integer", "null"],
                                "description": "The bucket holds durations d with previous edge < d <= this "
                                "edge (minutes); null: longer than every edge",
                            },
                            "count": COUNT,
                        }
                    ),
                },
            }
        ),
        "Health": _object(
            {"healthy": {"type": "boolean"}, "slack": {"type": "boolean"}, "database": {"type": "boolean"}}
        ),
    },
    "securitySchemes": {
        "apiToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (nephthys api-keys create) or API_TOKEN",
        }
    },
}

COMMON_ERRORS = {
    "401": _error(
        "API_ACCESS=keys (or API_TOKEN is set) and the request lacks `Authorization: Bearer <key>` "
        "with a valid API key or API_TOKEN"
    ),
    "503": _error("The database is unreachable (`database_unavailable`)"),
}

ETAG = {
    "ETag": {
        "description": "Send it back as If-None-Match to get an empty 304 while nothing changed",
        "schema": {"type": "string"},
    }
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "ETags of the copies the client holds (or *); a match answers an empty 304",
}
NOT_MODIFIED = {
    "304": {"description": "Not modified: the copy named by If-None-Match is current", "headers": ETAG}
}
# A streamed answer beyond API_MAX_STREAMS (overall) or API_MAX_STREAMS_PER_CLIENT (nephthys/api/stream_slots.py).
TOO_MANY_STREAMS = _json(
    _ref("TooManyRequests"),
    "`too_many_streams`: as many streamed answers as allowed are running, for this client (its key, "
    "else its address) or in all; a page (?limit=) is still answered",
    {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}},
)
SINCE_UNTIL_ERRORS = _error("A malformed parameter, or since after until (the error names the parameter)")

PATHS = {
    "/api/stats_v2": {
        "get": {
            "summary": "Statistics: all time, the last 24 hours and 7 days, and the periods before them",
            "description": "Exact at the request's database clock. Windows are half-open [start, end). "
                           "The ETag is weak: age_minutes moves with the clock and does not change it.",
            "parameters": [IF_NONE_MATCH],
            "responses": {"200": _json(_ref("StatsV2"), "The statistics", ETAG), **NOT_MODIFIED,
                          **COMMON_ERRORS},
        }
    },
    "/api/stats/range": {
        "get": {
            "summary": "The stats_v2 window figures over [since, until)",
            "parameters": [
                _query("since", "Start, inclusive (ISO 8601; no zone means UTC; default the epoch)", DATE),
                _query("after", "Same as since (since wins when both are given)", DATE),
                _query("until", "End, exclusive (ISO 8601; no zone means UTC; default now)", DATE),
                _query("before", "Same as until (until wins when both are given)", DATE),
                IF_NONE_MATCH,
            ],
            "responses": {"200": _json(_ref("RangeStats"), "The figures", ETAG), **NOT_MODIFIED,
                          "400": SINCE_UNTIL_ERRORS, **COMMON_ERRORS},
        }
    },
    "/api/stats/daily": {
        "get": {
            "summary": "One entry per local calendar day: new, closed, unresolved at the end, percentiles",
            "parameters": [
                _query("since", "First day (YYYY-MM-DD; default 29 days before until)", DAY),
                _query("until", "Last day, inclusive (YYYY-MM-DD; default today in tz)", DAY),
                _query("tz", "IANA time zone of the days (default the TIMEZONE setting, else UTC)",
                       {"type": "string", "examples": ["Europe/Berlin"]}),
                IF_NONE_MATCH,
            ],
            "responses": {"200": _json(_ref("DailyStats"), "The days, oldest first", ETAG), **NOT_MODIFIED,
                          "400": _error("A malformed date, an unknown zone, since after until, or more than "
                                        "366 days (the error names the parameter)"),
                          **COMMON_ERRORS},
        }
    },
    "/api/stats/distribution": {
        "get": {
            "summary": "Percentiles and a histogram of hang or resolution times of tickets created in "
                       "[since, until)",
            "parameters": [
                _query("metric", "hang or resolution", {"enum": ["hang", "resolution"]}, required=True),
                _query("since", "Created at or after (ISO 8601; default: no bound)", DATE),
                _query("after", "Same as since (since wins when both are given)", DATE),
                _query("until", "Created before (ISO 8601; default: no bound)", DATE),
                _query("before", "Same as until (until wins when both are given)", DATE),
                IF_NONE_MATCH,
            ],
            "responses": {"200": _json(_ref("Distribution"), "The distribution", ETAG), **NOT_MODIFIED,
                          "400": _error("metric missing or not hang or resolution, a malformed date, or since "
                                        "after until (the error names the parameter)"),
                          **COMMON_ERRORS},
        }
    },
    "/api/stats": {
        "get": {
            "summary": "First-generation flat statistics (prev_day_* over the last 24 hours)",
            "responses": {"200": _json(_ref("LegacyStats"), "The statistics"), **COMMON_ERRORS},
        }
    },
    "/api/tickets": {
        "get": {
            "summary": "Tickets oldest first, streamed; or one page with ?limit=",
            "description": "Needs at least one of: status=open or status=in_progress, waiting_on, sla, a date "
                           "bound (since, after, until, before), or limit; otherwise the whole table would be "
                           "asked for, and the answer is a 400. A cursor is only ever one that a Link "
                           "header gave out.",
            "parameters": [
                _query("status", "open, closed or in_progress (any case; blank means not given)", TICKET_STATUS),
                _query("waiting_on", "helpers or asker (any case; blank means not given): only the open and "
                       "in-progress tickets waiting on them", WAITING_ON),
                _query("sla", "breached or at_risk (any case; blank means not given): only the tickets with an "
                       "SLA clock past its target now, or with a running clock past its warning point and none "
                       "breached. Answered a page at a time (1000 unless limit says fewer)", {"type": "string", "examples": ["breached", "at_risk"], "pattern": _blank_or(
                           "[bB][rR][eE][aA][cC][hH][eE][dD]|[aA][tT]_[rR][iI][sS][kK]")}),
                _query("since", "Created at or after (ISO 8601; no zone means UTC)", DATE),
                _query("after", "Same as since (since wins when both are given)", DATE),
                _query("until", "Created at or before (ISO 8601; no zone means UTC)", DATE),
                _query("before", "Same as until (until wins when both are given)", DATE),
                _query("limit", "Page size; answers at most this many with a Link to the next page",
                       PAGE_SIZE),
                _query("cursor", "Opaque cursor from a Link header's next URL (any other value is a 400)", CURSOR),
            ],
            "responses": {
                "200": _json(
                    {"type": "array", "items": _ref("Ticket")},
                    "The tickets, ordered by creation time then id",
                    {"Link": {"description": 'With ?limit= and more to come: <next URL>; rel="next"',
                              "schema": {"type": "string"}}},
                ),
                "400": _error("A malformed parameter (the error names it), or filters too broad "
                              "(no status or status=closed, no waiting_on, no date bound, no limit)"),
                "429": TOO_MANY_STREAMS,
                **COMMON_ERRORS,
            },
        }
    },
    "/api/tickets/search": {
        "get": {
            "summary": "The tickets some words find, best first",
            "description": "Matches the words against every ticket's question (title and text) and the helper "
                           "answer that closed it, in any script, forgiving one typo per word; tickets with "
                           "every word come first. A match reveals what a ticket says, so with "
                           "API_DESCRIPTIONS=keys a search needs a key (401 without one).",
            "parameters": [
                _query("q", "The words to search for (at most 200 characters, no control characters; "
                       "blank is a 400)", SEARCH_WORDS, required=True),
                _query("limit", "How many tickets at most (default 10)", SEARCH_LIMIT),
            ],
            "responses": {
                "200": _json({"type": "array", "items": _ref("Ticket")}, "The tickets found, best first"),
                "400": _error("A malformed or missing parameter (the error names it)"),
                "401": _error(
                    "The request lacks a valid API key or API_TOKEN, and API_ACCESS=keys (or API_TOKEN is set) "
                    "or API_DESCRIPTIONS=keys"
                ),
                "503": COMMON_ERRORS["503"],
            },
        }
    },
    "/api/ticket": {
        "get": {
            "summary": "One ticket",
            "parameters": [_query("id", "The ticket's id (a 32-bit integer)", INT32, required=True)],
            "responses": {
                "200": _json(_ref("Ticket"), "The ticket"),
                "400": _error("`missing_ticket_id` or `invalid_ticket_id`"),
                "404": _error("`ticket_not_found`"),
                **COMMON_ERRORS,
            },
        }
    },
    "/api/ticket/timeline": {
        "get": {
            "summary": "One ticket's events, in the order they happened (at, then id)",
            "description": "Each event's `at` is the instant Slack gave it (a message's ts, a click's "
            "action_ts). Kinds are served as stored, in upper snake case. Message texts are never included.",
            "parameters": [_query("id", "The ticket's id (a 32-bit integer)", INT32, required=True)],
            "responses": {
                "200": _json({"type": "array", "items": _ref("TicketEvent")}, "The ticket's events"),
                "400": _error("`missing_ticket_id` or `invalid_ticket_id`"),
                "404": _error("`ticket_not_found`"),
                **COMMON_ERRORS,
            },
        }
    },
    "/api/user": {
        "get": {
            "summary": "Tickets a Slack user opened and closed (not counting their own), and whether they help",
            "parameters": [_query("id", "The user's Slack id (U…); blank is `missing_user_id`", SLACK_USER_ID,
                              required=True)],
            "responses": {
                "200": _json(_ref("UserSummary"), "The user's figures"),
                "400": _error("`missing_user_id` or `invalid_user_id`"),
                "404": _error("`user_not_found`"),
                **COMMON_ERRORS,
            },
        }
    },
    "/api/stats/question_tags": {
        "get": {
            "summary": "Each question tag's count of tickets created in [since, until), most first",
            "description": "`since` (or `after`) after `until` (or `before`) is a 400.",
            "parameters": [
                _query("since", "Created at or after", DATE),
                _query("after", "Same as since (since wins when both are given)", DATE),
                _query("until", "Created before", DATE),
                _query("before", "Same as until (until wins when both are given)", DATE),
            ],
            "responses": {
                "200": _json(
                    {"type": "array", "items": _object(
                        {"id": {"type": "integer"}, "label": {"type": "string"}, "count": COUNT})},
                    "The counts",
                ),
                "400": _error("A malformed date, or `since` after `until`"),
                **COMMON_ERRORS,
            },
        }
    },
    "/api/stats/feedback": {
        "get": {
            "summary": "Askers' feedback created in [since, until): per rating, response rate, per helper "
                       "(comments are never included)",
            "parameters": [
                _query("since", "Feedback created at or after", DATE),
                _query("after", "Same as since (since wins when both are given)", DATE),
                _query("until", "Feedback created before", DATE),
                _query("before", "Same as until (until wins when both are given)", DATE),
            ],
            "responses": {
                "200": _json(
                    _object({
                        "total": COUNT,
                        "ratings": _object({
                            name: _object({"count": COUNT, "share": NUMBER_OR_NULL})
                            for name in ("not_good", "okay", "great")
                        }),
                        "closed_tickets": COUNT,
                        "closed_tickets_with_feedback": COUNT,
                        "response_rate": NUMBER_OR_NULL,
                        "helpers": {"type": "array", "items": _object({
                            "id": {"type": "integer"}, "slack_id": {"type": "string"}, "total": COUNT,
                            "not_good": COUNT, "okay": COUNT, "great": COUNT,
                        })},
                    }),
                    "The feedback figures",
                ),
                "400": _error("A malformed date, or since after until"),
                **COMMON_ERRORS,
            },
        }
    },
    "/health": {
        "get": {
            "summary": "Whether the service can do its work",
            "security": [],
            "responses": {
                "200": _json(_ref("Health"), "The database answers"),
                "503": _json(_ref("Health"), "The database does not answer"),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics: requests and latencies per route, database pool, tickets by status",
            "security": [],
            "responses": {"200": {"description": "Prometheus text format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
        }
    },
}  # fmt: skip

# The dashboard's queue (issue 13), its own block so it merges beside the other routes' additions.
UNANSWERED_TICKET = _object(
    {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "last_message_at": {"type": ["string", "null"], "format": "date-time"},
        "waiting_minutes": {
            **NUMBER_OR_NULL,
            "description": "From `waiting_since` to the request's database clock",
        },
        "link": {"type": "string"},
        "waiting_since": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "When the ticket began to wait on the helpers (issue 20)",
        },
    }
)
# Not required: left out for readers who may not see question text.
UNANSWERED_TICKET["properties"] = {**UNANSWERED_TICKET["properties"], "description": {"type": "string"}}
UNANSWERED_RESPONSES: dict[str, Any] = {
    "200": _json(
        _object({"total": COUNT, "tickets": {"type": "array", "items": UNANSWERED_TICKET}}),
        "How many wait (`total`) and the first `limit` of them; the weak ETag leaves out `waiting_minutes`",
        ETAG,
    ),
    **NOT_MODIFIED,
    "400": _error("`invalid_limit`"),
    **COMMON_ERRORS,
}
PATHS["/api/unanswered"] = {
    "get": {
        "summary": "Tickets waiting on the helpers, longest wait first (by waiting_since)",
        "parameters": [
            _query("limit", "How many to list (default 50)", {"type": "integer", "minimum": 1, "maximum": 500}),
            IF_NONE_MATCH,
        ],
        "responses": UNANSWERED_RESPONSES,
    }
}  # fmt: skip

# Response times in support minutes (issue 20), its own block so it merges beside the other routes' additions.
_MEASURE = _object(
    {
        "count": COUNT,
        "mean": NUMBER_OR_NULL,
        "p50": NUMBER_OR_NULL,
        "p90": NUMBER_OR_NULL,
        "p95": NUMBER_OR_NULL,
    },
    description="Support minutes: count, arithmetic mean and percentile_cont percentiles (null when count is 0)",
)
_MEASURES = {
    measure: _ref("ResponseTimeMeasure") for measure in ("first_response", "next_response", "resolution")
}
COMPONENTS["schemas"]["ResponseTimeMeasure"] = _MEASURE
_BOUND = {"type": ["string", "null"], "format": "date-time", "description": "As asked; null: no bound"}
COMPONENTS["schemas"]["ResponseTimes"] = _object(
    {"since": _BOUND, "until": _BOUND, "by": {"enum": ["none", "team_tag", "helper"]}, **_MEASURES}
)
# Not required: only when by is team_tag or helper.
COMPONENTS["schemas"]["ResponseTimes"]["properties"]["groups"] = {
    "type": "array",
    "description": "Only when by is team_tag or helper: one entry per team tag (by name) or per person (by user "
    "id), each with all three measures",
    "items": {
        "oneOf": [
            _object({"team_tag": {"type": "string"}, **_MEASURES}),
            _object({"helper": _ref("User"), **_MEASURES}),
        ]
    },
}
RESPONSE_TIMES_RESPONSES: dict[str, Any] = {
    "200": _json(_ref("ResponseTimes"), "The figures", ETAG),
    **NOT_MODIFIED,
    "400": _error(
        "by not none, team_tag or helper, a malformed date, or since after until (the error names it)"
    ),
    **COMMON_ERRORS,
}
PATHS["/api/stats/response_times"] = {
    "get": {
        "summary": "First response, next response and resolution in support minutes, of tickets created in "
                   "[since, until), optionally per team tag or helper",
        "description": "Support minutes count only the support calendar's hours (SUPPORT_HOURS, SUPPORT_HOLIDAYS, "
                       "TIMEZONE); a new calendar applies to all history from the service's restart. See docs/api.md.",
        "parameters": [
            _query("since", "Created at or after (ISO 8601; default: no bound)", DATE),
            _query("after", "Same as since (since wins when both are given)", DATE),
            _query("until", "Created before (ISO 8601; default: no bound)", DATE),
            _query("before", "Same as until (until wins when both are given)", DATE),
            _query("by", "none (the default), team_tag or helper",
                   {"type": "string", "pattern": _blank_or("none|team_tag|helper")}),
            IF_NONE_MATCH,
        ],
        "responses": RESPONSE_TIMES_RESPONSES,
    }
}  # fmt: skip

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Nephthys API",
        "version": "2",
        "description": "Statistics and tickets of the Nephthys help desk. See docs/api.md for the definitions.",
    },
    "security": [{}, {"apiToken": []}],
    "paths": PATHS,
    "components": COMPONENTS,
}


@functools.cache
def document(*, descriptions_public: bool, status_upper: bool = False) -> dict:
    """The document as this service is configured.

    With API_DESCRIPTIONS=keys a ticket may lack ``description``, and its ``title`` may be null (a
    title made of the question's own words); with API_STATUS_CASE=upper its ``status`` is in capitals.
    """
    if descriptions_public and not status_upper:
        return DOCUMENT
    described = copy.deepcopy(DOCUMENT)
    ticket = described["components"]["schemas"]["Ticket"]
    if not descriptions_public:
        ticket["required"] = [key for key in ticket["required"] if key != "description"]
        ticket["properties"]["description"]["description"] = (
            "Only to requests with a valid key (API_DESCRIPTIONS=keys)"
        )
        queued = described["paths"]["/api/unanswered"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]
        queued_ticket = queued["schema"]["properties"]["tickets"]["items"]
        for title in (ticket["properties"]["title"], queued_ticket["properties"]["title"]):
            title["type"] = ["string", "null"]
            title["description"] = (
                "Without a valid key (API_DESCRIPTIONS=keys): null when the title is the question's own "
                "first words; an AI-written title is shown"
            )
    if status_upper:
        status = ticket["properties"]["status"]
        status["enum"] = [value.upper() for value in status["enum"]]
        status["description"] = (
            "In capitals: this service runs with API_STATUS_CASE=upper (the default is lower case)"
        )
    return described


async def openapi(request: Request) -> Response:
    settings = request.app.state.settings
    return json_response(
        document(
            descriptions_public=settings.api_descriptions == "public",
            status_upper=settings.api_status_case == UPPER,
        )
    )


route = Route("/openapi.json", openapi, methods=["GET"])


# SLA targets (issue 21), their own block so it merges beside the other routes' additions.
_CLOCK_STATE = {"enum": ["running", "paused", "met", "breached"]}
COMPONENTS["schemas"]["SlaClock"] = _object(
    {
        "target_minutes": {"type": "integer", "minimum": 1},
        "state": _CLOCK_STATE,
        "due_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "When a running clock reaches its target (found in the support calendar); null otherwise",
        },
        "minutes_left": {
            **NUMBER_OR_NULL,
            "description": "Support minutes left: of a running clock (negative once past its target) or a paused "
            "one; null once it stopped",
        },
    },
    description="One SLA clock of a ticket, at the instant it was served",
)
COMPONENTS["schemas"]["Ticket"]["properties"]["sla"] = {
    "oneOf": [
        _object(
            {clock: _ref_or_null("SlaClock") for clock in ("first_response", "next_response", "resolution")}
        ),
        {"type": "null"},
    ],
    "description": "The ticket's SLA clocks now (null when no target applies; a clock null when it has no "
    "target or has not started). On every ticket object, after every other key",
}
_SLA_FIGURES = _object(
    {
        "with_target": COUNT,
        "met": COUNT,
        "breached": COUNT,
        "running": COUNT,
        "compliance": {**NUMBER_OR_NULL, "description": "met / (met + breached); null when both are 0"},
        "p50": {**NUMBER_OR_NULL, "description": "Support minutes taken by the clocks that stopped"},
        "p90": NUMBER_OR_NULL,
    },
    description="One clock over the period's tickets with a target for it, judged at now",
)
COMPONENTS["schemas"]["SlaClockFigures"] = _SLA_FIGURES
_SLA_CLOCKS = {clock: _ref("SlaClockFigures") for clock in ("first_response", "next_response", "resolution")}
COMPONENTS["schemas"]["SlaStats"] = _object(
    {
        "since": _BOUND,
        "until": _BOUND,
        "by": {"enum": ["none", "team_tag", "helper"]},
        "now": {
            "type": "string",
            "format": "date-time",
            "description": "The instant the clocks were judged at",
        },
        **_SLA_CLOCKS,
    }
)
COMPONENTS["schemas"]["SlaStats"]["properties"]["groups"] = {
    "type": "array",
    "description": "Only when by is team_tag or helper: one entry per team tag (by name) or per assignee (by user "
    "id), each with all three clocks",
    "items": {
        "oneOf": [
            _object({"team_tag": {"type": "string"}, **_SLA_CLOCKS}),
            _object({"helper": _ref("User"), **_SLA_CLOCKS}),
        ]
    },
}
SLA_STATS_RESPONSES: dict[str, Any] = {
    "200": _json(_ref("SlaStats"), "The figures", ETAG),
    **NOT_MODIFIED,
    "400": _error(
        "by not none, team_tag or helper, a malformed date, or since after until (the error names it)"
    ),
    **COMMON_ERRORS,
}
_SLA_ATTENTION_TICKET = _object(
    {
        "id": {"type": "integer"},
        "title": {"type": ["string", "null"]},
        "link": {"type": "string", "description": "The question's thread in Slack"},
        "state": {"enum": ["breached", "at_risk"]},
        "clock": {"enum": ["first_response", "next_response", "resolution"]},
        "due_at": {"type": "string", "format": "date-time"},
        "minutes_left": {"type": "number", "description": "Support minutes; negative once breached"},
    }
)
SLA_ATTENTION_RESPONSES: dict[str, Any] = {
    "200": _json(
        _object(
            {
                "breached": COUNT,
                "at_risk": COUNT,
                "tickets": {"type": "array", "items": _SLA_ATTENTION_TICKET},
            }
        ),
        "How many are breached and at risk now, and the first limit of each",
        ETAG,
    ),
    **NOT_MODIFIED,
    "400": _error("`invalid_limit`"),
    **COMMON_ERRORS,
}
PATHS["/api/sla/attention"] = {
    "get": {
        "summary": "Open and in-progress tickets whose SLA clock is breached or at risk now, breached first",
        "description": "Counts of each (breached: a running clock past its due instant; at_risk: as "
        "/api/tickets?sla=at_risk) and up to limit tickets of each, with the tightest such clock. The weak "
        "ETag leaves out minutes_left. See docs/api.md.",
        "parameters": [
            _query(
                "limit",
                "How many of each to list (default 10)",
                {"type": "integer", "minimum": 1, "maximum": 100},
            ),
            IF_NONE_MATCH,
        ],
        "responses": SLA_ATTENTION_RESPONSES,
    }
}
PATHS["/api/stats/sla"] = {
    "get": {
        "summary": "SLA compliance per clock over tickets created in [since, until), optionally per team tag or "
        "assignee",
        "description": "Each ticket with a target for a clock is met, breached or running at now (the database's "
        "clock); targets and minutes are in support minutes. See docs/api.md.",
        "parameters": [
            _query("since", "Created at or after (ISO 8601; default: no bound)", DATE),
            _query("after", "Same as since (since wins when both are given)", DATE),
            _query("until", "Created before (ISO 8601; default: no bound)", DATE),
            _query("before", "Same as until (until wins when both are given)", DATE),
            _query(
                "by",
                "none (the default), team_tag or helper",
                {"type": "string", "pattern": _blank_or("none|team_tag|helper")},
            ),
            IF_NONE_MATCH,
        ],
        "responses": SLA_STATS_RESPONSES,
    }
}
