"""What a helper sees after an unknown ``?name``: the macros there are, and the nearest one."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz, process

from nephthys.slack.macros.base import Macro
from nephthys.transcripts import Transcript

# Below this similarity (0–100) a suggestion would be a guess, not a typo fix.
SUGGESTION_CUTOFF = 60


def nearest_name(name: str, macros: Sequence[Macro]) -> str | None:
    """The macro name (or alias) closest to ``name``, if any is close; the macro's own name is suggested."""
    owners = {alias: macro.name for macro in macros for alias in macro.names}
    match = process.extractOne(name, list(owners), scorer=fuzz.WRatio, score_cutoff=SUGGESTION_CUTOFF)
    return None if match is None else owners[match[0]]


def available(macros: Sequence[Macro]) -> str:
    return ", ".join(f"`?{macro.name}`" for macro in macros)


def unknown_macro_text(transcript: Transcript, name: str, macros: Sequence[Macro]) -> str:
    suggestion = nearest_name(name, macros)
    if suggestion is None:
        return transcript.text("unknown_macro", macro=name, available=available(macros))
    return transcript.text(
        "unknown_macro_suggestion", macro=name, suggestion=suggestion, available=available(macros)
    )
