"""Loading and validating a program's transcript (``programs/<name>.toml``).

Everything is checked when the program loads: an unknown program, a missing or
unknown text, a placeholder a text may not use, a malformed redirect macro. The
error is a :class:`TranscriptError` whose message is one line naming the problem.
After loading, ``Transcript.text`` cannot fail for a program-specific reason.
"""

from __future__ import annotations

import functools
import re
import string
import tomllib
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from nephthys.transcripts.keys import (
    PROGRAM_PLACEHOLDERS,
    REDIRECT_MACRO_PLACEHOLDERS,
    TEXT_MAX_LENGTH,
    TEXT_PLACEHOLDERS,
)

_PROGRAM_NAME = re.compile(r"^[a-z0-9_-]+$")
_MACRO_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_URL = re.compile(r"^https?://\S+$")
CHANNEL_KEYS = ("help", "tickets", "bts", "heartbeat")


class TranscriptError(ValueError):
    """A program's transcript is unknown or invalid; the message is one line naming it."""


@dataclass(frozen=True)
class RedirectMacro:
    """A macro the program declares: reply with ``text`` (and resolve when ``resolves``)."""

    name: str
    aliases: tuple[str, ...]
    text: str
    resolves: bool


@dataclass(frozen=True)
class ProgramChannels:
    """Channel ids a program suggests; the SLACK_*_CHANNEL settings override them."""

    help: str | None = None
    tickets: str | None = None
    bts: str | None = None
    heartbeat: str | None = None


class Transcript:
    """The user-facing texts of one program."""

    def __init__(
        self,
        *,
        program: str,
        program_name: str,
        program_owner: str,
        faq_link: str,
        channels: ProgramChannels,
        texts: dict[str, str],
        redirect_macros: tuple[RedirectMacro, ...],
    ) -> None:
        self.program = program
        self.program_name = program_name
        self.program_owner = program_owner
        self.faq_link = faq_link
        self.channels = channels
        self.texts = MappingProxyType(dict(texts))
        self.redirect_macros = redirect_macros
        self._program_values = {
            "program_name": program_name,
            "program_owner": program_owner,
            "faq_link": faq_link,
        }

    def __repr__(self) -> str:
        return f"Transcript(program={self.program!r})"

    def text(self, key: str, /, **values: object) -> str:
        """The text ``key`` with its placeholders filled in.

        ``values`` must be exactly the placeholders keys.py lists for ``key`` (a
        programming error otherwise, whatever the program), so that switching
        programs can never make a send fail.
        """
        allowed = TEXT_PLACEHOLDERS.get(key)
        if allowed is None:
            raise KeyError(f"no transcript text {key!r} (see nephthys/transcripts/keys.py)")
        given = set(values)
        if given != allowed:
            missing = ", ".join(sorted(allowed - given)) or "none"
            extra = ", ".join(sorted(given - allowed)) or "none"
            raise TypeError(f"text {key!r} takes {_braced(allowed)}; missing: {missing}; unexpected: {extra}")
        return self.texts[key].format_map({**self._program_values, **values})

    def redirect_text(self, macro: RedirectMacro, /, *, user: str) -> str:
        """A redirect macro's reply, with ``{user}`` (the asker) filled in."""
        return macro.text.format_map({**self._program_values, "user": user})

    def redirect_macro(self, name: str) -> RedirectMacro | None:
        """The redirect macro called ``name`` or having it as an alias."""
        for macro in self.redirect_macros:
            if name == macro.name or name in macro.aliases:
                return macro
        return None


def _braced(names) -> str:
    return ", ".join("{" + name + "}" for name in sorted(names)) or "no placeholders"


def available_programs() -> list[str]:
    """Names of the programs shipped in ``nephthys/transcripts/programs``."""
    directory = resources.files("nephthys.transcripts") / "programs"
    return sorted(
        entry.name.removesuffix(".toml") for entry in directory.iterdir() if entry.name.endswith(".toml")
    )


@functools.cache
def load_transcript(program: str) -> Transcript:
    """The transcript of ``program``, validated (cached: loaded once per process)."""
    if not isinstance(program, str) or not _PROGRAM_NAME.match(program):
        raise TranscriptError(f"PROGRAM {program!r}: expected a program name like 'default'")
    source = resources.files("nephthys.transcripts") / "programs" / f"{program}.toml"
    if not source.is_file():
        known = ", ".join(available_programs())
        raise TranscriptError(f"PROGRAM {program!r}: unknown program (known: {known})")
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise TranscriptError(
            f"PROGRAM {program!r}: programs/{program}.toml is not valid TOML: {error}"
        ) from None
    return _parse(program, data)


def validate_program(program: str) -> Transcript:
    """Load ``program`` or raise :class:`TranscriptError`; call at start-up."""
    return load_transcript(program)


def _parse(program: str, data: dict) -> Transcript:
    def fail(message: str) -> TranscriptError:
        return TranscriptError(f"PROGRAM {program!r}: {message}")

    unknown_sections = set(data) - {"program", "channels", "texts", "macros"}
    if unknown_sections:
        raise fail(f"unknown section {sorted(unknown_sections)[0]!r}")

    info = data.get("program")
    if not isinstance(info, dict):
        raise fail("missing the [program] table (name, owner, faq_link)")
    fields: dict[str, str] = {}
    for field in ("name", "owner", "faq_link"):
        value = info.get(field)
        if not isinstance(value, str) or not value.strip():
            raise fail(f"[program] {field}: expected a non-empty string")
        fields[field] = value.strip()
    if not _URL.match(fields["faq_link"]):
        raise fail(f"[program] faq_link: expected an http(s) URL, got {fields['faq_link']!r}")

    channels = _parse_channels(data.get("channels", {}), fail)
    program_values = {
        "program_name": fields["name"],
        "program_owner": fields["owner"],
        "faq_link": fields["faq_link"],
    }
    texts = _parse_texts(data.get("texts"), fail, program_values)
    macros = _parse_macros(data.get("macros", []), fail)
    return Transcript(
        program=program,
        program_name=fields["name"],
        program_owner=fields["owner"],
        faq_link=fields["faq_link"],
        channels=channels,
        texts=texts,
        redirect_macros=macros,
    )


def _parse_channels(raw: object, fail) -> ProgramChannels:
    if not isinstance(raw, dict):
        raise fail("[channels]: expected a table")
    unknown = set(raw) - set(CHANNEL_KEYS)
    if unknown:
        raise fail(f"[channels] {sorted(unknown)[0]}: unknown channel (known: {', '.join(CHANNEL_KEYS)})")
    for key, value in raw.items():
        if not isinstance(value, str) or not _CHANNEL_ID.match(value):
            raise fail(f"[channels] {key}: expected a Slack channel id like C0123456789, got {value!r}")
    return ProgramChannels(**raw)


def _parse_texts(raw: object, fail, program_values: dict[str, str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise fail("missing the [texts] table")
    missing = sorted(set(TEXT_PLACEHOLDERS) - set(raw))
    if missing:
        raise fail(
            f"missing text {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    unknown = sorted(set(raw) - set(TEXT_PLACEHOLDERS))
    if unknown:
        raise fail(f"unknown text {unknown[0]!r} (see nephthys/transcripts/keys.py)")
    texts: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            raise fail(f"text {key!r}: expected a non-empty string")
        _check_placeholders(value, TEXT_PLACEHOLDERS[key] | PROGRAM_PLACEHOLDERS, f"text {key!r}", fail)
        limit = TEXT_MAX_LENGTH.get(key)
        # Length-limited texts take no placeholders but the program's own, known now.
        shown = len(value.format_map(program_values)) if limit is not None else 0
        if limit is not None and shown > limit:
            raise fail(f"text {key!r}: Slack shows at most {limit} characters here, got {shown}")
        texts[key] = value
    return texts


def _parse_macros(raw: object, fail) -> tuple[RedirectMacro, ...]:
    if not isinstance(raw, list):
        raise fail("[[macros]]: expected an array of tables")
    macros: list[RedirectMacro] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise fail(f"[[macros]] #{index + 1}: expected a table")
        name = entry.get("name")
        where = f"macro {name!r}" if isinstance(name, str) else f"[[macros]] #{index + 1}"
        unknown = set(entry) - {"name", "aliases", "text", "resolves"}
        if unknown:
            raise fail(f"{where}: unknown field {sorted(unknown)[0]!r}")
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list):
            raise fail(f"{where}: aliases: expected a list of names")
        names: list[str] = []  # the name, then the aliases
        for macro_name in [name, *aliases]:
            if not isinstance(macro_name, str) or not _MACRO_NAME.match(macro_name):
                raise fail(f"{where}: expected a macro name of a-z, 0-9, _ or -, got {macro_name!r}")
            if macro_name in seen:
                raise fail(f"{where}: the name {macro_name!r} is declared twice")
            seen.add(macro_name)
            names.append(macro_name)
        text = entry.get("text")
        if not isinstance(text, str) or not text.strip():
            raise fail(f"{where}: text: expected a non-empty string")
        _check_placeholders(text, REDIRECT_MACRO_PLACEHOLDERS | PROGRAM_PLACEHOLDERS, where, fail)
        resolves = entry.get("resolves", False)
        if not isinstance(resolves, bool):
            raise fail(f"{where}: resolves: expected true or false")
        macros.append(RedirectMacro(name=names[0], aliases=tuple(names[1:]), text=text, resolves=resolves))
    return tuple(macros)


def _check_placeholders(text: str, allowed: frozenset[str], where: str, fail) -> None:
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as error:
        raise fail(
            f"{where}: malformed placeholder ({error}; write {{{{ and }}}} for literal braces)"
        ) from None
    for _literal, field, format_spec, conversion in fields:
        if field is None:
            continue
        if format_spec or conversion or not field.isidentifier():
            raise fail(f"{where}: placeholder {{{field}}} must be a bare name like {{user}}")
        if field not in allowed:
            raise fail(f"{where}: placeholder {{{field}}} is not allowed here (allowed: {_braced(allowed)})")
