"""Schemathesis against the live /openapi.json, every check on: the document describes what the API does.

A fixed seed and a few hundred generated requests keep it affordable in CI; the hooks in
tests/api/schemathesis_hooks.py tell it the two rules that span parameters, which the document
states in words. Any failure it reports (a schema-valid request refused, a schema-violating one
answered, an answer that does not match its schema, a 5xx, …) fails this test with its report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from nephthys.api.openapi import DOCUMENT
from tests.api.test_fuzz import TOKEN, seeded_url, server_in_thread  # noqa: F401  (a fixture)
from tests.conftest import make_app, make_settings

ROOT = Path(__file__).resolve().parents[2]
SEED = 20260125
EXAMPLES_PER_OPERATION = 30


def test_schemathesis_finds_nothing_with_every_check_on(seeded_url, tmp_path):  # noqa: F811
    app = make_app(make_settings(database_url=seeded_url, api_token=TOKEN, slack_help_channel="C0HELP0001"))
    with server_in_thread(app) as base_url:
        result = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/openapi.json",
                "--checks", "all",
                "--header", f"Authorization: Bearer {TOKEN}",
                "--max-examples", str(EXAMPLES_PER_OPERATION),
                "--seed", str(SEED),
                "--workers", "1",
                "--no-color",
            ],
            # tmp_path: no schemathesis.toml of the developer's takes part.
            cwd=tmp_path,
            env={
                "PATH": os.environ["PATH"],
                "PYTHONPATH": str(ROOT),
                "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
            },
            capture_output=True,
            text=True,
            timeout=600,
        )  # fmt: skip
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "Schema-valid request rejected" not in report
    # Every operation the run finds is selected and tested; it finds all of the document but one
    # (schemathesis counts 9 of the 10 paths listed when /api/stats/feedback joined).
    selected = re.search(r"(\d+) selected / \1 total", report)
    assert selected and int(selected.group(1)) >= len(DOCUMENT["paths"]) - 1, report
    assert f"Tested: {selected.group(1)}" in report, report
    generated = re.search(r"(\d+) generated, \1 passed", report)
    assert generated and int(generated.group(1)) >= 300, report  # a few hundred requests, all passed
