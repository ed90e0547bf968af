"""API keys: made once and shown once, stored only as hashes, checked in constant time, revoked at once.

A key is ``nph_`` and 43 characters of ``secrets.token_urlsafe(32)`` (256 random
bits). So much randomness needs no slow password hash: SHA-256 cannot be
turned back into the key, and a stolen table lets no one in. A request's key is
hashed and looked up by its hash in the database on every request (one indexed
read), so ``nephthys api-keys revoke`` (which deletes the row) stops it at once,
on every instance, with no restart.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import asyncpg

KEY_PREFIX = "nph_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# lastUsedAt is written at most this often per key and instance: a read-mostly table.
LAST_USED_EVERY_SECONDS = 60.0


class ApiKeyError(ValueError):
    """An api-keys command cannot be done; the message is one line for the operator."""


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def valid_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ApiKeyError(
            f"expected a key name of 1-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit, "
            f"got {name!r}"
        )
    return name


@dataclass(frozen=True)
class StoredKey:
    name: str
    created_at: datetime
    last_used_at: datetime | None


# ---------------------------------------------------------------- the commands' data access


async def create_key(connection: asyncpg.Connection, *, name: str) -> str:
    """Store a new key under ``name`` and return it (the only time it is seen)."""
    key = new_key()
    try:
        await connection.execute(
            'INSERT INTO "ApiKey" (name, "keyHash") VALUES ($1, $2)', valid_name(name), key_hash(key)
        )
    except asyncpg.UniqueViolationError:
        raise ApiKeyError(f"a key named {name!r} exists; revoke it first or choose another name") from None
    return key


async def list_keys(connection: asyncpg.Connection) -> list[StoredKey]:
    """Every key's name, creation and last use, oldest first (never the key: it is not stored)."""
    rows = await connection.fetch(
        'SELECT name, "createdAt", "lastUsedAt" FROM "ApiKey" ORDER BY "createdAt", id'
    )
    return [StoredKey(row["name"], row["createdAt"], row["lastUsedAt"]) for row in rows]


async def revoke_key(connection: asyncpg.Connection, *, name: str) -> None:
    """Delete the key named ``name``: the next request that sends it is refused."""
    deleted = await connection.fetchval('DELETE FROM "ApiKey" WHERE name = $1 RETURNING id', name)
    if deleted is None:
        raise ApiKeyError(f"no key named {name!r}")


# ---------------------------------------------------------------- requests


class KeyChecker:
    """Checks a presented key against the stored hashes; remembers when it last recorded each key's use."""

    def __init__(self) -> None:
        self._recorded_at: dict[int, float] = {}

    async def is_valid(self, connection: asyncpg.Connection, key: str) -> bool:
        wanted = key_hash(key)
        row = await connection.fetchrow('SELECT id, "keyHash" FROM "ApiKey" WHERE "keyHash" = $1', wanted)
        # The index found the row by its hash; the comparison itself takes the same time wherever they differ.
        if row is None or not hmac.compare_digest(row["keyHash"].encode(), wanted.encode()):
            return False
        now = time.monotonic()
        if now - self._recorded_at.get(row["id"], -LAST_USED_EVERY_SECONDS) >= LAST_USED_EVERY_SECONDS:
            self._recorded_at[row["id"]] = now
            await connection.execute('UPDATE "ApiKey" SET "lastUsedAt" = now() WHERE id = $1', row["id"])
        return True
