"""Every text a program's transcript must define, and the placeholders each may use.

A transcript may use any of a key's placeholders (or none); using one not listed
here stops start-up. Callers of ``Transcript.text(key, ...)`` pass exactly the
placeholders listed for that key, so whichever program is loaded, sending a text
never fails. ``PROGRAM_PLACEHOLDERS`` are filled in by the transcript itself and
are available in every text (including redirect macros).

Placeholder values are ready-to-post strings: ``{user}`` is a mention such as
``<@U0123>``, links are URLs, numbers are already formatted.

To add a text: add its key here, then the text to every program in ``programs/``
(tests/transcripts checks that each program loads).
"""

from __future__ import annotations

# Available everywhere; the transcript provides their values.
PROGRAM_PLACEHOLDERS: frozenset[str] = frozenset({"program_name", "program_owner", "faq_link"})

TEXT_PLACEHOLDERS: dict[str, frozenset[str]] = {
    # Thread reply when a question becomes a ticket.
    "first_ticket_created": frozenset({"user"}),
    "ticket_created": frozenset({"user"}),
    # Link from the thread reply to the ticket's backend message.
    "backend_link": frozenset({"backend_link"}),
    "resolve_button": frozenset(),
    # The backend message in the tickets channel.
    "backend_message": frozenset({"user", "title", "question", "previous_tickets", "thread_link"}),
    "backend_team_tags_label": frozenset(),
    "backend_team_tags_placeholder": frozenset(),
    "backend_question_tag_label": frozenset(),
    "backend_question_tag_placeholder": frozenset(),
    # After the question tag's name when the AI endpoint chose it (issue 22 §4).
    "backend_question_tag_automatic": frozenset(),
    # Closing and reopening, in the thread.
    "resolved": frozenset({"user", "closer"}),
    "resolved_stale": frozenset({"user"}),
    "reopened": frozenset({"user", "reopener"}),
    # Ephemeral explanations.
    "not_allowed_to_resolve": frozenset({"user"}),
    "broadcast_removed": frozenset({"user"}),
    "helpers_only": frozenset({"user"}),
    # ?resolve / ?reopen from someone who is neither the asker nor a helper.
    "asker_or_helpers_only": frozenset({"user"}),
    "macro_closed_ticket": frozenset({"macro"}),
    "unknown_macro": frozenset({"macro", "available"}),
    "unknown_macro_suggestion": frozenset({"macro", "suggestion", "available"}),
    # Macro replies.
    "faq_macro": frozenset({"user"}),
    "hii_macro": frozenset({"user", "helper"}),
    "tag_macro_added": frozenset({"tags"}),
    "tag_macro_removed": frozenset({"tags"}),
    "tag_macro_usage": frozenset({"available"}),
    "tag_macro_unknown": frozenset({"tags", "available"}),
    # DM to a team tag's subscribers.
    "tag_notification": frozenset({"tag", "question_link", "title", "user", "tagger"}),
    # App Home "Team tags" view and the create-tag / create-question-tag modals.
    "app_home_team_tags_title": frozenset(),
    "app_home_no_team_tags": frozenset(),
    "app_home_subscribe_button": frozenset(),
    "app_home_unsubscribe_button": frozenset(),
    "app_home_create_tag_button": frozenset(),
    "app_home_create_question_tag_button": frozenset(),
    "create_tag_modal_title": frozenset(),
    "create_question_tag_modal_title": frozenset(),
    "modal_submit": frozenset(),
    "modal_name_label": frozenset(),
    "tag_name_empty": frozenset(),
    "tag_name_too_long": frozenset({"max_length"}),
    "tag_name_taken": frozenset({"name"}),
    # Closing the loop with the asker: the closing message's buttons and what they answer.
    "closing_reopen_button": frozenset(),
    "closing_feedback_button": frozenset(),
    "reopen_already_open": frozenset({"user"}),
    "button_out_of_date": frozenset({"user"}),
    # Any other button, select or modal whose value the app did not write (forged, or from an old version).
    "button_unreadable": frozenset({"user"}),
    "feedback_asker_only": frozenset({"user"}),
    # The feedback modal, its errors and its thanks.
    "feedback_modal_title": frozenset(),
    "feedback_modal_submit": frozenset(),
    "feedback_modal_close": frozenset(),
    "feedback_rating_label": frozenset(),
    "feedback_rating_not_good": frozenset(),
    "feedback_rating_okay": frozenset(),
    "feedback_rating_great": frozenset(),
    "feedback_comment_label": frozenset(),
    "feedback_comment_placeholder": frozenset(),
    "feedback_rating_missing": frozenset(),
    "feedback_comment_too_long": frozenset({"max_length"}),
    "feedback_ticket_gone": frozenset(),
    "feedback_thanks": frozenset(),
    "feedback_thanks_not_good": frozenset(),
    # Feedback worth the team's eye, in the team channel (the comment quoted on its own line).
    "feedback_team_note": frozenset({"user", "rating", "closer", "thread_link"}),
    "feedback_team_comment": frozenset({"comment"}),
    # Told privately to a helper whose resolve credited the helper working on the thread.
    "resolve_credited_to": frozenset({"user", "assignee"}),
    # Under the backend message of a ticket kept after its question was deleted.
    "backend_question_deleted": frozenset({"user"}),
    # Under the backend message: whom the ticket waits on; {since} is Slack's date token.
    "backend_waiting_on_helpers": frozenset({"since"}),
    "backend_waiting_on_asker": frozenset({"since"}),
    # Scheduled jobs (docs/jobs.md). The daily summary in the team channel:
    "summary_header": frozenset({"date"}),
    "summary_new_tickets": frozenset({"count", "change", "closed", "in_progress", "still_open"}),
    "summary_closed": frozenset({"count", "change"}),
    "summary_assigned": frozenset({"count", "change"}),
    "summary_hang_time": frozenset({"duration", "change"}),
    "summary_resolution_time": frozenset({"duration", "change"}),
    # The day's median first response in support minutes (nephthys/stats/response_times.py).
    "summary_first_response": frozenset({"duration", "change"}),
    "summary_no_value": frozenset(),
    # SLA (with targets only): each clock's compliance over the day's new tickets, and the day's breaches.
    "summary_sla_compliance": frozenset({"clock", "compliance", "met", "breached", "running"}),
    "summary_sla_breaches": frozenset({"count"}),
    "summary_sla_breach_item": frozenset({"link", "title", "clock"}),
    "summary_top_helpers": frozenset({"helpers"}),
    "summary_no_helpers": frozenset(),
    "summary_worth_a_look": frozenset({"days"}),
    "summary_worth_a_look_item": frozenset({"link", "title", "tags", "created", "last_reply"}),
    "summary_worth_a_look_more": frozenset({"count"}),
    "summary_nothing_waiting": frozenset({"days"}),
    "summary_chart_title": frozenset({"days"}),
    "summary_chart_new": frozenset(),
    "summary_chart_closed": frozenset(),
    "summary_chart_open": frozenset(),
    # A question waiting too long for a helper, in the team channel.
    "unanswered_alert": frozenset({"link", "title", "user", "waited", "subscribers"}),
    # A team tag's digest, one DM to each subscriber.
    "tag_digest": frozenset({"tag", "count"}),
    "tag_digest_item": frozenset({"link", "title", "created"}),
    "tag_digest_more": frozenset({"count"}),
    # The asker follow-up (docs/jobs.md): the nudge in the question's thread, its buttons, what they
    # answer, and the closing text when nobody answered it.
    "follow_up_question": frozenset({"user"}),
    "follow_up_yes_button": frozenset(),
    "follow_up_help_button": frozenset(),
    "follow_up_asker_only": frozenset({"user"}),
    "follow_up_still_needs_help": frozenset({"user", "assignee"}),
    "follow_up_still_needs_help_unassigned": frozenset({"user"}),
    "follow_up_closed": frozenset({"user"}),
    "resolved_no_answer": frozenset({"user"}),
    # SLA targets (docs/jobs.md, sla-watch): the clocks' names, the warning (a DM to the assignee, or
    # the tags' subscribers, or the team channel), the breach in the team channel, and the backend
    # message's line about the tightest running clock.
    "app_home_tag_sla": frozenset({"targets"}),
    "app_home_tag_sla_button": frozenset(),
    "sla_modal_title": frozenset(),
    "sla_modal_help": frozenset({"name"}),
    "sla_modal_first_response_label": frozenset(),
    "sla_modal_next_response_label": frozenset(),
    "sla_modal_resolution_label": frozenset(),
    "sla_modal_invalid": frozenset({"low", "high"}),
    "sla_clock_first_response": frozenset(),
    "sla_clock_next_response": frozenset(),
    "sla_clock_resolution": frozenset(),
    "sla_warning": frozenset({"clock", "link", "title", "left", "target"}),
    "sla_breach": frozenset({"clock", "link", "title", "target", "people"}),
    "sla_backend_due": frozenset({"clock", "left"}),
    "sla_backend_paused": frozenset({"clock", "left"}),
    "sla_backend_breached": frozenset({"clock"}),
}

# The App Home (nephthys/slack/home): its header, its six views, and the admin modals.
TEXT_PLACEHOLDERS.update(
    {
        "app_home_view_dashboard": frozenset(),
        "app_home_view_assigned": frozenset(),
        "app_home_view_team_tags": frozenset(),
        "app_home_view_question_tags": frozenset(),
        "app_home_view_my_stats": frozenset(),
        "app_home_view_my_questions": frozenset(),
        "app_home_how_to_ask": frozenset({"channel"}),
        "app_home_loading": frozenset(),
        "app_home_error": frozenset(),
        "app_home_retry_button": frozenset(),
        "app_home_admins_only": frozenset(),
        "app_home_helpers_only": frozenset(),
        "app_home_page": frozenset({"page", "pages"}),
        "app_home_previous_button": frozenset(),
        "app_home_next_button": frozenset(),
        # Dashboard.
        "app_home_dashboard_totals": frozenset({"total", "open", "in_progress", "closed"}),
        "app_home_dashboard_day": frozenset({"new", "new_change", "closed", "closed_change"}),
        "app_home_dashboard_week": frozenset({"new", "new_change", "closed", "closed_change"}),
        "app_home_dashboard_means": frozenset({"hang", "resolution"}),
        "app_home_dashboard_oldest": frozenset({"link", "age"}),
        "app_home_dashboard_no_oldest": frozenset(),
        "app_home_leaderboard_all_time": frozenset(),
        "app_home_leaderboard_week": frozenset(),
        "app_home_leaderboard_row": frozenset({"rank", "user", "count"}),
        "app_home_leaderboard_you": frozenset({"rank", "count"}),
        "app_home_leaderboard_empty": frozenset(),
        # Assigned to me.
        "app_home_assigned_title": frozenset({"count"}),
        "app_home_assigned_ticket": frozenset({"link", "title", "asker", "age", "last_spoke"}),
        "app_home_last_spoke_asker": frozenset(),
        "app_home_last_spoke_helper": frozenset(),
        "app_home_last_spoke_other": frozenset(),
        "app_home_assigned_tags": frozenset({"tags"}),
        "app_home_assigned_empty": frozenset(),
        # Team tags and question tags.
        "app_home_tag_subscribers": frozenset({"users"}),
        "app_home_tag_no_subscribers": frozenset(),
        "app_home_rename_button": frozenset(),
        "app_home_delete_button": frozenset(),
        "app_home_merge_button": frozenset(),
        "app_home_delete_confirm": frozenset({"name"}),
        "app_home_confirm_title": frozenset(),
        "app_home_confirm_yes": frozenset(),
        "app_home_confirm_no": frozenset(),
        "app_home_question_tags_title": frozenset(),
        "app_home_question_tag_row": frozenset({"label", "week", "month", "all_time"}),
        "app_home_no_question_tags": frozenset(),
        "rename_tag_modal_title": frozenset(),
        "rename_modal_submit": frozenset(),
        "merge_question_tag_modal_title": frozenset(),
        "merge_modal_submit": frozenset(),
        "merge_modal_label": frozenset({"label"}),
        "merge_modal_same_tag": frozenset(),
        # My stats.
        "app_home_my_stats_title": frozenset(),
        "app_home_my_stats_closed": frozenset({"day", "week", "month", "all_time"}),
        "app_home_my_stats_ranks": frozenset({"day", "week", "month", "all_time"}),
        "app_home_my_stats_first_response": frozenset({"minutes"}),
        "app_home_my_stats_in_progress": frozenset({"count"}),
        "app_home_unranked": frozenset(),
        # My stats: the ratings the viewer's closed tickets received (nephthys.stats.feedback).
        "app_home_my_stats_ratings_all_time": frozenset({"great", "okay", "not_good", "total"}),
        "app_home_my_stats_ratings_month": frozenset({"great", "okay", "not_good", "total"}),
        "app_home_my_stats_no_ratings": frozenset(),
        # My questions.
        "app_home_my_questions_title": frozenset(),
        "app_home_my_questions_empty": frozenset({"channel"}),
        "app_home_my_question_row": frozenset({"link", "title", "status", "helper"}),
        "app_home_status_open": frozenset(),
        "app_home_status_in_progress": frozenset(),
        "app_home_status_closed": frozenset(),
        "app_home_nobody_yet": frozenset(),
        "app_home_reopen_hint": frozenset(),
    }
)

# The team's memory (nephthys/memory): similar past tickets in the backend thread, ?search, and
# the App Home's search modal. {link}: the past ticket's thread; {closer}: a mention; {closed}:
# Slack's date token; {answer}: the first line of the helper's answer that closed it.
TEXT_PLACEHOLDERS.update(
    {
        "similar_tickets_header": frozenset({"count"}),
        "similar_ticket": frozenset({"link", "title", "closer", "closed", "answer"}),
        "search_usage": frozenset(),
        "search_results": frozenset({"query", "count"}),
        "search_no_results": frozenset({"query"}),
        "search_result": frozenset({"link", "title", "status"}),
        "app_home_search_button": frozenset(),
        "search_modal_title": frozenset(),
        "search_modal_submit": frozenset(),
        "search_modal_label": frozenset(),
        # A surge, in the team channel: {minutes} is SURGE_WINDOW_MINUTES; one surge_ticket line per ticket.
        "surge_message": frozenset({"count", "title", "minutes"}),
        "surge_ticket": frozenset({"link", "id"}),
        # The AI-drafted answer in the backend thread (AI_* settings), its button, and who sent it.
        "draft_header": frozenset(),
        "draft_send_button": frozenset(),
        "draft_sent": frozenset({"user"}),
    }
)

REQUIRED_TEXT_KEYS: frozenset[str] = frozenset(TEXT_PLACEHOLDERS)

# Texts Slack shows in plain_text fields with a length limit (Block Kit reference); they
# take no placeholders, so a transcript's text that is too long is refused when it loads.
TEXT_MAX_LENGTH: dict[str, int] = {
    "resolve_button": 75,  # button text
    "app_home_search_button": 75,
    "draft_send_button": 75,
    "search_modal_title": 24,
    "search_modal_submit": 24,
    "search_modal_label": 2000,
    "app_home_subscribe_button": 75,
    "app_home_unsubscribe_button": 75,
    "app_home_create_tag_button": 75,
    "app_home_create_question_tag_button": 75,
    "backend_team_tags_placeholder": 150,  # select placeholder
    "backend_question_tag_placeholder": 150,
    "app_home_team_tags_title": 150,  # header block
    "create_tag_modal_title": 24,  # modal title
    "create_question_tag_modal_title": 24,
    "modal_submit": 24,  # modal submit button
    "modal_name_label": 2000,  # input block label
    "closing_reopen_button": 75,
    "closing_feedback_button": 75,
    "feedback_modal_title": 24,
    "feedback_modal_submit": 24,
    "feedback_modal_close": 24,
    "feedback_rating_label": 2000,
    "feedback_rating_not_good": 75,  # radio button option text
    "feedback_rating_okay": 75,
    "feedback_rating_great": 75,
    "feedback_comment_label": 2000,
    "feedback_comment_placeholder": 150,
    "summary_no_value": 150,
    "summary_chart_new": 150,  # chart legend
    "summary_chart_closed": 150,
    "summary_chart_open": 150,
}

# The App Home's plain_text fields (buttons 75, headers 150, modal titles and submits 24).
TEXT_MAX_LENGTH.update(
    {
        "app_home_view_dashboard": 75,
        "app_home_view_assigned": 75,
        "app_home_view_team_tags": 75,
        "app_home_view_question_tags": 75,
        "app_home_view_my_stats": 75,
        "app_home_view_my_questions": 75,
        "app_home_retry_button": 75,
        "app_home_previous_button": 75,
        "app_home_next_button": 75,
        "app_home_rename_button": 75,
        "app_home_delete_button": 75,
        "app_home_merge_button": 75,
        "app_home_confirm_title": 100,
        "app_home_confirm_yes": 30,
        "app_home_confirm_no": 30,
        "app_home_leaderboard_all_time": 150,
        "app_home_leaderboard_week": 150,
        "app_home_question_tags_title": 150,
        "app_home_my_stats_title": 150,
        "app_home_my_questions_title": 150,
        "rename_tag_modal_title": 24,
        "rename_modal_submit": 24,
        "merge_question_tag_modal_title": 24,
        "merge_modal_submit": 24,
    }
)

# Placeholders a redirect macro's text may use.
REDIRECT_MACRO_PLACEHOLDERS: frozenset[str] = frozenset({"user"})
