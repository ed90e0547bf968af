"""The macro tables of docs/macros.md, generated from the registry and the programs' transcripts.

``python -m nephthys.slack.macros.table`` prints them; tests/slack/test_macro_table.py
checks that the document holds exactly these tables.
"""

from __future__ import annotations

from nephthys.slack.macros import MACROS
from nephthys.slack.macros.base import Who
from nephthys.transcripts import available_programs, load_transcript

WHO = {Who.HELPERS: "helpers", Who.ASKER_OR_HELPERS: "the asker or helpers"}


def _names(aliases) -> str:
    return ", ".join(f"`?{alias}`" for alias in aliases) or "–"


def built_in_table() -> str:
    rows = [
        "| Macro | Aliases | Who may run it | On a closed ticket | What it does |",
        "|---|---|---|---|---|",
    ]
    for macro in MACROS:
        rows.append(
            f"| `?{macro.name}` | {_names(macro.aliases)} | {WHO[macro.who]} | "
            f"{'runs' if macro.runs_on_closed else 'refused'} | {macro.summary} |"
        )
    return "\n".join(rows)


def program_table(program: str) -> str:
    transcript = load_transcript(program)
    if not transcript.redirect_macros:
        return "(no redirect macros)"
    rows = ["| Macro | Aliases | Resolves | Reply |", "|---|---|---|---|"]
    for macro in transcript.redirect_macros:
        reply = macro.text.replace("|", "\\|").replace("\n", " ")
        rows.append(
            f"| `?{macro.name}` | {_names(macro.aliases)} | {'yes' if macro.resolves else 'no'} | {reply} |"
        )
    return "\n".join(rows)


def all_tables() -> dict[str, str]:
    """Section title -> table, in document order."""
    tables = {"Built-in macros": built_in_table()}
    for program in available_programs():
        tables[f"Redirect macros of `{program}`"] = program_table(program)
    return tables


if __name__ == "__main__":
    for title, table in all_tables().items():
        print(f"### {title}\n\n{table}\n")
