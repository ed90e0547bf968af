"""People: askers, helpers and admins, and what the App Home remembers of them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from nephthys.database import raw
from nephthys.database.models import User
from nephthys.tickets.core import (
    Sessions,
    autocommit,
    retried_on_conflict,
)


@retried_on_conflict
async def upsert_user(
    sessions: Sessions, *, slack_id: str, username: str | None = None, helper: bool | None = None
) -> int:
    """The user's id, creating the row if needed; a known username or helper flag is kept current."""
    async with sessions.begin() as session:
        return await _upsert_user(session, slack_id=slack_id, username=username, helper=helper)


# ``upsert_user`` with a username only, as one statement in autocommit (every new asker's
# users.info answer on the Slack path): the row read, the username written only when it changes
# (a write to "User" also touches the ticket-totals row), or the row made.
_SET_USERNAME = text(
    """WITH found AS (SELECT id, username FROM "User" WHERE "slackId" = :slack_id),
       renamed AS (
           UPDATE "User" u SET username = :username FROM found f
           WHERE u.id = f.id AND f.username IS DISTINCT FROM :username),
       created AS (
           INSERT INTO "User" ("slackId", username) SELECT :slack_id, :username
           WHERE NOT EXISTS (SELECT 1 FROM found)
           ON CONFLICT ("slackId") DO UPDATE SET username = EXCLUDED.username
           RETURNING id)
       SELECT id FROM found UNION ALL SELECT id FROM created"""
)


@retried_on_conflict
async def set_username(sessions: Sessions, *, slack_id: str, username: str) -> int:
    """``upsert_user(slack_id=..., username=...)`` in one round trip: the user's id."""
    async with raw.autocommit(sessions) as connection:
        return (
            await connection.execute(_SET_USERNAME, {"slack_id": slack_id, "username": username})
        ).scalar_one()


async def _upsert_user(
    session: AsyncSession, *, slack_id: str, username: str | None = None, helper: bool | None = None
) -> int:
    # Read first and write only what changes: every write to "User" also touches the
    # one ticket-totals row (migration 0003), which all ticket writers queue on.
    row = (
        await session.execute(select(User.id, User.username, User.helper).where(User.slack_id == slack_id))
    ).one_or_none()
    if row is not None:
        changes: dict = {}
        if username is not None and row.username != username:
            changes["username"] = username
        if helper is not None and row.helper != helper:
            changes["helper"] = helper
        if changes:
            await session.execute(update(User).where(User.id == row.id).values(**changes))
        return row.id
    values: dict = {"slack_id": slack_id}
    if username is not None:
        values["username"] = username
    if helper is not None:
        values["helper"] = helper
    statement = insert(User).values(**values)
    # Someone else inserted it meanwhile: take theirs, with our values.
    statement = statement.on_conflict_do_update(
        index_elements=[User.slack_id],
        set_={User.__table__.c.slackId: statement.excluded.slackId}
        | ({User.__table__.c.username: username} if username is not None else {})
        | ({User.__table__.c.helper: helper} if helper is not None else {}),
    )
    return (await session.execute(statement.returning(User.id))).scalar_one()


async def user_needs_username(sessions: Sessions, *, slack_id: str) -> bool:
    """True when we do not know this user's name yet (so users.info is worth a call)."""
    async with sessions() as session:
        username = await session.scalar(select(User.username).where(User.slack_id == slack_id))
    return username is None


@retried_on_conflict
async def set_helper(sessions: Sessions, *, slack_id: str, helper: bool) -> None:
    """Mark a user as a helper (joined the team channel) or not (left it)."""
    async with sessions.begin() as session:
        await _upsert_user(session, slack_id=slack_id, helper=helper)


_UNMAKE_HELPERS = text(
    """UPDATE "User" SET helper = false
       WHERE helper AND NOT ("slackId" = ANY(CAST(:members AS text[])))"""
)
_MAKE_HELPERS = text(
    """INSERT INTO "User" ("slackId", helper)
       SELECT member, true FROM unnest(CAST(:members AS text[])) AS member
       ON CONFLICT ("slackId") DO UPDATE SET helper = true WHERE NOT "User".helper"""
)


@retried_on_conflict
async def sync_helpers(sessions: Sessions, *, member_ids: set[str]) -> tuple[int, int]:
    """Make exactly ``member_ids`` the helpers; returns (added, removed). Two statements, however many."""
    members = sorted(member_ids)
    async with sessions.begin() as session:
        # The session's connection: its results are cursor results, which have a rowcount.
        connection = await session.connection()
        removed = await connection.execute(_UNMAKE_HELPERS, {"members": members})
        added = await connection.execute(_MAKE_HELPERS, {"members": members})
    return added.rowcount or 0, removed.rowcount or 0


async def is_helper(sessions: Sessions, *, slack_id: str) -> bool:
    async with sessions() as session:
        return bool(await session.scalar(select(User.helper).where(User.slack_id == slack_id)))


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the App Home: what they may see and do, and the view they last chose."""

    slack_id: str
    helper: bool
    admin: bool
    last_view: str | None


async def viewer(sessions: Sessions, *, slack_id: str, maintainer_id: str | None) -> Viewer:
    """The person's roles and remembered view (a stranger: neither helper nor admin, no view).

    Admins are users with ``User.admin``, and always the maintainer (SLACK_MAINTAINER_ID).
    """
    async with sessions() as session:
        row = (
            await session.execute(
                select(User.helper, User.admin, User.app_home_last_view).where(User.slack_id == slack_id)
            )
        ).one_or_none()
    is_maintainer = maintainer_id is not None and slack_id == maintainer_id
    if row is None:
        return Viewer(slack_id=slack_id, helper=False, admin=is_maintainer, last_view=None)
    return Viewer(
        slack_id=slack_id,
        helper=bool(row.helper),
        admin=bool(row.admin) or is_maintainer,
        last_view=row.app_home_last_view,
    )


async def remember_home_view(sessions: Sessions, *, slack_id: str, view: str) -> None:
    """Remember the App Home view the person chose (their row is created if needed)."""
    async with autocommit(sessions) as connection:
        await connection.execute(
            text(
                """INSERT INTO "User" ("slackId", "appHomeLastView") VALUES (:slack_id, :view)
                   ON CONFLICT ("slackId") DO UPDATE SET "appHomeLastView" = EXCLUDED."appHomeLastView"
                   WHERE "User"."appHomeLastView" IS DISTINCT FROM EXCLUDED."appHomeLastView" """
            ),
            {"slack_id": slack_id, "view": view},
        )


@retried_on_conflict
async def set_admin(sessions: Sessions, *, slack_id: str, admin: bool) -> bool:
    """Grant or remove admin rights (``nephthys users admin``); True when that changed something.

    Removing never creates the user: someone Nephthys has not met is not an admin already.
    """
    async with sessions.begin() as session:
        if admin:
            user = User.id == await _upsert_user(session, slack_id=slack_id)
        else:
            user = User.slack_id == slack_id
        result = await session.execute(
            update(User).where(user, User.admin.is_distinct_from(admin)).values(admin=admin)
        )
        return bool(getattr(result, "rowcount", 0))
