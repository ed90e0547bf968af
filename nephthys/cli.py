"""The `nephthys` command: serve the app, manage the database schema and people's rights."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime

import asyncpg

from nephthys.config import ConfigError, Settings
from nephthys.database import embedded, migrate
from nephthys.database.engine import redacted
from nephthys.tasks.cli import add_job_commands
from nephthys.testing.demo import add_demo_command
from nephthys.utils import stopping

log = logging.getLogger("nephthys")


class StartupError(RuntimeError):
    """Start-up cannot go on; the message is one line for the operator."""


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pgserver logs every command line it runs at INFO; our own line says which database is used.
    logging.getLogger("pgserver").setLevel(logging.WARNING)


def _database_error(url: str, error: BaseException) -> StartupError:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return StartupError(f"cannot reach the database at {redacted(url)}: {reason}")


def _run_db(coroutine_factory, url: str):
    try:
        return asyncio.run(coroutine_factory())
    except migrate.AdoptionError as error:
        raise StartupError(f"cannot adopt the database at {redacted(url)}: {error}") from error
    except (TimeoutError, OSError) as error:
        raise _database_error(url, error) from error
    except Exception as error:
        # asyncpg and SQLAlchemy errors (bad password, missing database, …)
        if type(error).__module__.startswith(("asyncpg", "sqlalchemy")):
            raise _database_error(url, error) from error
        raise


@contextmanager
def database_url_for(
    settings: Settings, *, throwaway: bool = False, announce: Callable[[str], None] | None = None
) -> Iterator[str]:
    """The database to use, the same for every command: DATABASE_URL, or the embedded PostgreSQL.

    Without DATABASE_URL, the embedded PostgreSQL in NEPHTHYS_PGDATA (./.nephthys/pgdata) is
    started, or shared when a running ``serve`` (or any other command) already holds it, and
    stopped on exit unless another process still uses it. ``announce`` gets the line saying which
    database is used (the commands print it first; ``serve`` logs it).

    ``throwaway`` (the demo): always a new embedded PostgreSQL in a temporary folder, deleted on
    exit, whatever DATABASE_URL says, so fake tickets never mix with real ones.
    """
    say = announce or (lambda line: log.info("%s", line))
    if settings.database_url and not throwaway:
        say(f"using the database at {redacted(settings.database_url)} (DATABASE_URL)")
        yield settings.database_url
        return
    try:
        server = embedded.start_throwaway() if throwaway else embedded.start(settings.embedded_pgdata)
    except embedded.EmbeddedDatabaseError as error:
        raise StartupError(str(error)) from error
    if throwaway:
        say(f"using {server.description}" + "; DATABASE_URL is left alone" * bool(settings.database_url))
    else:
        say(f"DATABASE_URL is not set; using {server.description}")
    try:
        yield server.url
    finally:
        with stopping.stop_signals_ignored():
            left_for = server.stop()
        if left_for:
            log.info("left the embedded PostgreSQL running for the other processes using it: %s", left_for)
        else:
            log.info("stopped the embedded PostgreSQL")


def command_database(settings: Settings) -> AbstractContextManager[str]:
    """``database_url_for`` for a command other than ``serve``: its first line of output says which database."""
    return database_url_for(settings, announce=lambda line: print(line, flush=True))


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from nephthys.utils import connections
    from nephthys.utils.starlette import create_app

    if settings.slack_enabled:
        # Slack's channels come from the settings and the program's transcript: a missing one is a
        # configuration error, said now in one line rather than by the app's start-up under uvicorn.
        from nephthys.slack.app import channels_for
        from nephthys.transcripts import load_transcript

        channels_for(settings, load_transcript(settings.program))
    # SIGTERM, SIGINT and SIGHUP end with the embedded PostgreSQL stopped: during start-up they
    # unwind this block (main's handlers); while serving, uvicorn shuts down and returns.
    with database_url_for(settings) as url:
        if not args.no_migrate:
            upgraded = _run_db(lambda: migrate.upgrade_database(url), url)
            if upgraded.adopted:
                log.warning("%s", migrate.adoption_note(settings.api_status_case))
        host = args.host or settings.host or "127.0.0.1"
        port = args.port or settings.port
        app = create_app(settings, database_url=url, own_process=True)
        # Before the limits are made: the connection bound is fitted to the open-files limit.
        connections.raise_open_files_limit()
        limits = connections.ConnectionLimits()
        log.info(
            "serving %s on http://%s:%s (at most %d connections)",
            settings.app_title,
            host,
            port,
            limits.max_connections,
        )
        server = stopping.Server(
            connections.server_config(
                app, host=host, port=port, log_level=settings.log_level.lower(), limits=limits
            )
        )
        server.run()
        if not server.started and server.stop_signal is None:
            raise StartupError(f"could not serve on {host}:{port} (the log above says why)")
    return 0


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    with command_database(settings) as url:
        upgraded = _run_db(lambda: migrate.upgrade_database(url), url)
        before, after = upgraded.before, upgraded.after
        print(f"database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))
        if upgraded.adopted:
            print(migrate.adoption_note(settings.api_status_case))
        if not args.no_reindex:
            _run_db(lambda: _reindex_memory(url, batch=args.batch), url)
    return 0


def cmd_db_reindex_memory(settings: Settings, args: argparse.Namespace) -> int:
    with command_database(settings) as url:
        state = _run_db(lambda: migrate.status(url), url)
        if state.behind:
            raise StartupError(f"the database is {state.describe()}; run `nephthys db upgrade` first")
        _run_db(lambda: _reindex_memory(url, batch=args.batch), url)
    return 0


async def _reindex_memory(url: str, *, batch: int) -> None:
    """The memory rows of tickets opened before migration 0024 (nephthys/memory/reindex.py)."""
    import time

    from sqlalchemy.ext.asyncio import async_sessionmaker

    from nephthys.database.engine import create_engine
    from nephthys.memory import reindex

    engine = create_engine(url, pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    started = time.perf_counter()

    def progress(done: reindex.Reindexed) -> None:
        if done.batches % 100 == 0:
            print(
                f"  memory reindex: {reindex.rate(done, started)} so far (up to ticket #{done.after})",
                flush=True,
            )

    try:
        done = await reindex.reindex_missing(sessions, batch=batch, progress=progress)
    finally:
        await engine.dispose()
    if done.skipped:
        print("memory reindex: another run holds it (the service's memory-reindex job or another upgrade)")
    elif done.filled:
        print(
            f"memory reindex: filled the search rows of tickets opened before 0024: {reindex.rate(done, started)}"
        )


def cmd_db_status(settings: Settings, args: argparse.Namespace) -> int:
    with command_database(settings) as url:
        state = _run_db(lambda: migrate.status(url), url)
        print(f"database is {state.describe()}")
    return 1 if state.behind else 0


def cmd_db_rebuild_ticket_json(settings: Settings, args: argparse.Namespace) -> int:
    with command_database(settings) as url:
        state = _run_db(lambda: migrate.status(url), url)
        if state.behind:
            raise StartupError(f"the database is {state.describe()}; run `nephthys db upgrade` first")
        count = _run_db(lambda: migrate.rebuild_ticket_json(url), url)
        print(f"rendered the stored JSON of {count} tickets")
        built = _run_db(lambda: _build_export_blocks(url), url)
        print(f"built {built} export blocks")
    return 0


async def _build_export_blocks(url: str) -> int:
    """The export's blocks, gone with the old JSON, built now rather than by the service's next upkeep."""
    from nephthys.database.engine import create_engine, session_factory
    from nephthys.tasks.ticket_json import keep_blocks

    engine = create_engine(url, pool_size=1)
    try:
        return (await keep_blocks(session_factory(engine))).built
    finally:
        await engine.dispose()


async def _api_keys(url: str, args: argparse.Namespace) -> int:
    from nephthys.api import keys
    from nephthys.database.engine import create_engine

    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as pooled:
            connection = (await pooled.get_raw_connection()).driver_connection
            return await _api_keys_on(connection, args)
    except keys.ApiKeyError as error:
        raise StartupError(str(error)) from None
    except asyncpg.UndefinedTableError:
        raise StartupError("the database has no ApiKey table yet: run 'nephthys db upgrade' first") from None
    finally:
        await engine.dispose()


async def _set_admin(url: str, slack_id: str, admin: bool) -> bool:
    from nephthys.database.engine import create_engine, session_factory
    from nephthys.tickets import lifecycle

    engine = create_engine(url, pool_size=1)
    try:
        return await lifecycle.set_admin(session_factory(engine), slack_id=slack_id, admin=admin)
    finally:
        await engine.dispose()


async def _api_keys_on(connection: asyncpg.Connection, args: argparse.Namespace) -> int:
    from nephthys.api import keys

    if args.keys_command == "create":
        key = await keys.create_key(connection, name=args.name)
        print(
            f"Created the API key {args.name!r}. It is shown only now: store it where its user keeps secrets."
        )
        print("Send it as 'Authorization: Bearer <key>'. The key:")
        print(key)  # the last line is the key alone, for scripts
    elif args.keys_command == "list":
        stored = await keys.list_keys(connection)
        if not stored:
            print("no API keys")
            return 0
        width = max(len("NAME"), *(len(k.name) for k in stored))
        print(f"{'NAME':<{width}}  {'CREATED (UTC)':<19}  LAST USED (UTC, within a minute)")
        for k in stored:
            last = _utc(k.last_used_at) if k.last_used_at else "never"
            print(f"{k.name:<{width}}  {_utc(k.created_at)}  {last}")
    else:
        await keys.revoke_key(connection, name=args.name)
        print(f"Revoked the API key {args.name!r}: it is refused from now on.")
    return 0


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def cmd_api_keys(settings: Settings, args: argparse.Namespace) -> int:
    with command_database(settings) as url:
        return _run_db(lambda: _api_keys(url, args), url)


def cmd_users_admin(settings: Settings, args: argparse.Namespace) -> int:
    """Grant (or with --remove, take away) admin rights: the App Home's tag administration."""
    from nephthys.config import _USER_ID

    slack_id = args.slack_id.strip()
    if not _USER_ID.match(slack_id):
        print(
            f"nephthys: SLACK_ID: expected a Slack user id like U0123456789, got {slack_id!r}",
            file=sys.stderr,
        )
        return 2
    admin = not args.remove
    with command_database(settings) as url:
        changed = _run_db(lambda: _set_admin(url, slack_id, admin), url)
    state = "an admin" if admin else "not an admin"
    print(f"{slack_id} is {'now' if changed else 'already'} {state}")
    return 0


def accept_embedded_flag(parser: argparse.ArgumentParser) -> None:
    """``--embedded``, once needed to reach the embedded database, still accepted (unlisted) and changes
    nothing: every command now uses the database ``serve`` uses, so old scripts keep working."""
    parser.add_argument("--embedded", action="store_true", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nephthys", description="Nephthys: a Slack help desk.")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the HTTP service (the default)")
    serve.add_argument("--host", help="address to listen on (HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (PORT; default 3000)")
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema on start")
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="manage the database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    for name, handler, text in [
        (
            "upgrade",
            cmd_db_upgrade,
            "bring the database to the newest schema (adopting a Prisma one), then fill the search rows "
            "of tickets opened before migration 0024",
        ),
        ("status", cmd_db_status, "say which revision the database is at; exit 1 when behind"),
        (
            "reindex-memory",
            cmd_db_reindex_memory,
            "fill the search rows of tickets opened before migration 0024 (resumable; what `db upgrade` runs)",
        ),
        (
            "rebuild-ticket-json",
            cmd_db_rebuild_ticket_json,
            "render every ticket's stored API JSON again (after a load with triggers disabled)",
        ),
    ]:
        sub = db_commands.add_parser(name, help=text)
        accept_embedded_flag(sub)
        sub.set_defaults(handler=handler)
        if name in ("upgrade", "reindex-memory"):
            sub.add_argument("--batch", type=int, default=500, help="tickets a transaction (default 500)")
        if name == "upgrade":
            sub.add_argument("--no-reindex", action="store_true", help="only migrate the schema")

    api_keys = commands.add_parser("api-keys", help="make, list and revoke keys for the HTTP API")
    keys_commands = api_keys.add_subparsers(dest="keys_command", required=True)
    for name, text in [
        ("create", "make a key named NAME and print it (once: only its hash is stored)"),
        ("list", "names, when each key was made and last used (never the keys)"),
        ("revoke", "delete the key named NAME: it is refused at once"),
    ]:
        sub = keys_commands.add_parser(name, help=text)
        if name != "list":
            sub.add_argument("name", metavar="NAME")
        accept_embedded_flag(sub)
        sub.set_defaults(handler=cmd_api_keys)

    users = commands.add_parser("users", help="manage people's rights")
    users_commands = users.add_subparsers(dest="users_command", required=True)
    admin = users_commands.add_parser(
        "admin", help="make a Slack user an admin (App Home tag administration), or --remove it"
    )
    admin.add_argument("slack_id", metavar="SLACK_ID", help="the user's Slack id, like U0123456789")
    admin.add_argument("--remove", action="store_true", help="take admin rights away instead")
    accept_embedded_flag(admin)
    admin.set_defaults(handler=cmd_users_admin)

    add_demo_command(commands)
    add_job_commands(commands)
    return parser


def _configuration_error(error: ConfigError) -> int:
    print(f"nephthys: configuration error: {error}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv if argv is not None else sys.argv[1:])])
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        return _configuration_error(error)
    _configure_logging(settings.log_level)
    try:
        # Every command may have started an embedded PostgreSQL: a stop signal unwinds to stop it.
        with stopping.unwinding_on_stop_signals():
            return args.handler(settings, args)
    except ConfigError as error:  # found by a command (serve's Slack channels): as at start-up
        return _configuration_error(error)
    except StartupError as error:
        print(f"nephthys: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except stopping.Stopped as stopped:
        # Stopped outside a server's run (start-up, migrations, a db command): the shell's status.
        log.info("stopped by %s", stopped)
        return 128 + stopped.signum


if __name__ == "__main__":
    sys.exit(main())
