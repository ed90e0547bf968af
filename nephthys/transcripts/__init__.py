"""Every user-facing string, per program (``PROGRAM``): see docs/transcripts.md.

transcript = load_transcript(settings.program)   # cached, validated
transcript.text("resolved", user="<@U1>", closer="<@U2>")
transcript.program_name, transcript.program_owner, transcript.faq_link
transcript.redirect_macros   # (RedirectMacro(name, aliases, text, resolves), ...)
"""

from nephthys.transcripts.keys import REQUIRED_TEXT_KEYS, TEXT_PLACEHOLDERS
from nephthys.transcripts.transcript import (
    ProgramChannels,
    RedirectMacro,
    Transcript,
    TranscriptError,
    available_programs,
    load_transcript,
    validate_program,
)

__all__ = [
    "REQUIRED_TEXT_KEYS",
    "TEXT_PLACEHOLDERS",
    "ProgramChannels",
    "RedirectMacro",
    "Transcript",
    "TranscriptError",
    "available_programs",
    "load_transcript",
    "validate_program",
]
