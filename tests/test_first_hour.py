"""What a newcomer meets first: the two scripts, the README's commands, the package metadata, .env.example."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- ./scripts/serve


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_scripts_serve_runs_pip_only_when_pyproject_changed(tmp_path):
    """The real script, in a copy of the repository whose .venv records what pip is asked."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    pip_calls = tmp_path / "pip-calls"
    # .venv/bin/python: records `-m pip …`, runs anything else with the real Python.
    _executable(
        tmp_path / ".venv/bin/python",
        f'#!/bin/sh\nif [ "$1" = "-m" ]; then echo "$*" >> {pip_calls}; exit 0; fi\nexec {sys.executable} "$@"\n',
    )
    _executable(tmp_path / ".venv/bin/nephthys", '#!/bin/sh\necho "nephthys $*"\n')

    def serve() -> list[str]:
        result = subprocess.run(
            [tmp_path / "scripts/serve", "--port", "3999"],
            env={"PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "nephthys serve --port 3999"
        return pip_calls.read_text().splitlines() if pip_calls.exists() else []

    first = serve()
    assert first == ["-m pip install --quiet --upgrade pip", "-m pip install --quiet -e ."]
    assert serve() == first, "pip ran again although pyproject.toml did not change"
    with (tmp_path / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a change\n")
    assert serve() == first * 2, "pip did not run after pyproject.toml changed"


# ---------------------------------------------------------------- README


def test_the_readme_writes_each_command_as_it_runs_after_the_two_scripts():
    """Both scripts install into ./.venv and put nothing on PATH: `nephthys` alone is not found."""
    readme = (ROOT / "README.md").read_text()
    assert (ROOT / "scripts/serve").read_text().count(".venv/bin/nephthys") >= 1
    bare = [
        line
        for line in readme.splitlines()
        for match in re.finditer(r"(?<![\w/.-])nephthys (serve|db|demo|jobs)\b", line)
        if not line[: match.start()].endswith(".venv/bin/")
    ]
    assert bare == [], "write .venv/bin/nephthys where the README gives a command"


# ---------------------------------------------------------------- pyproject.toml


def test_the_licence_is_a_pep_639_expression_and_the_build_backend_knows_it():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    licence = pyproject["project"]["license"]
    # The table form ({ text = … }) makes setuptools print a deprecation box on every install.
    assert isinstance(licence, str) and canonicalize_license_expression(licence) == licence
    [setuptools] = [
        r for r in map(Requirement, pyproject["build-system"]["requires"]) if r.name == "setuptools"
    ]
    # setuptools reads a licence expression from version 77 on.
    assert not setuptools.specifier.contains("76.9") and setuptools.specifier.contains("77.0")


# ---------------------------------------------------------------- .env.example


def _example_variables() -> list[str]:
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)


# Where a variable's setting is not named after it.
FIELD_FOR = {"NEPHTHYS_PGDATA": "embedded_pgdata"}
# Settings the code uses through a property of Settings that combines them.
USED_THROUGH = {
    "SUPPORT_HOURS": "support_calendar",
    "SUPPORT_HOLIDAYS": "support_calendar",
    "SLA_FIRST_RESPONSE_MINUTES": "sla_policy",
    "SLA_NEXT_RESPONSE_MINUTES": "sla_policy",
    "SLA_RESOLUTION_MINUTES": "sla_policy",
    "SLA_WARN_AT": "sla_policy",
}


def test_every_variable_in_env_example_is_used_by_the_code():
    from nephthys.config import Settings

    fields = set(Settings.__dataclass_fields__)
    code = "\n".join(
        path.read_text()
        for path in (ROOT / "nephthys").rglob("*.py")
        if path != ROOT / "nephthys/config.py"  # reading a setting is not using it
    )
    variables = _example_variables()
    assert len(variables) > 20
    unused = []
    for variable in variables:
        field = FIELD_FOR.get(variable, variable.lower())
        assert field in fields, f"{variable} is in .env.example but config.py does not read it"
        if re.search(rf"\.{field}\b", code):
            continue
        combined = USED_THROUGH.get(variable)
        if combined is not None and re.search(rf"\.{combined}\b", code):
            source = inspect.getsource(getattr(Settings, combined).fget)
            assert f"self.{field}" in source, f"Settings.{combined} does not read {field}"
            continue
        unused.append(variable)
    assert unused == [], f"read by config.py but used nowhere: {unused}"


# ---------------------------------------------------------------- docs


def test_the_docs_mention_no_daily_summary_while_no_job_posts_one():
    """docs/deployment.md and docs/api.md described a daily summary that no scheduled job posts."""
    code = "\n".join(path.read_text() for path in (ROOT / "nephthys").rglob("*.py"))
    summary_job = re.search(r'Job\(\s*"[^"]*summary', code) or any(
        (ROOT / "nephthys/tasks").glob("*summary*")
    )
    if summary_job:
        return  # a branch that brings the summary job documents it
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        assert "daily summary" not in doc.read_text().lower(), doc.name
