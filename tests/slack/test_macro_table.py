"""docs/macros.md holds exactly the macro tables generated from the registry and the programs."""

from __future__ import annotations

from pathlib import Path

from nephthys.slack.macros import MACROS, macros_for
from nephthys.slack.macros.table import all_tables
from nephthys.transcripts import available_programs, load_transcript

DOC = Path(__file__).resolve().parents[2] / "docs" / "macros.md"


def documented_tables() -> dict[str, str]:
    """Each '### title' section of the document and the table (or note) under it."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            current = sections.setdefault(line.removeprefix("### ").strip(), [])
        elif line.startswith("#"):
            current = None
        elif current is not None and line.strip():
            current.append(line.rstrip())
    return {title: "\n".join(lines) for title, lines in sections.items()}


def test_the_documented_tables_match_the_registry():
    expected = all_tables()
    documented = documented_tables()
    assert list(documented) == list(expected), "run: python -m nephthys.slack.macros.table"
    for title, table in expected.items():
        assert documented[title] == table, (
            f"{title} is out of date; run: python -m nephthys.slack.macros.table"
        )


def test_every_registered_macro_is_documented_with_each_alias():
    table = all_tables()["Built-in macros"]
    for macro in MACROS:
        assert f"| `?{macro.name}` |" in table
        for alias in macro.aliases:
            assert f"`?{alias}`" in table
        assert macro.summary, f"?{macro.name} needs a summary for the table"


def test_no_program_redirect_macro_is_shadowed_by_a_built_in():
    built_in = {name for macro in MACROS for name in macro.names}
    for program in available_programs():
        for declared in load_transcript(program).redirect_macros:
            clashes = built_in & {declared.name, *declared.aliases}
            assert not clashes, f"{program}: ?{declared.name} clashes with built-in {sorted(clashes)}"


def test_each_name_reaches_exactly_one_macro_in_every_program():
    for program in available_programs():
        names = [name for macro in macros_for(load_transcript(program)) for name in macro.names]
        assert len(names) == len(set(names)), program
