"""What `qa ask --json` prints for a question: every other way in must give the same answer and citations."""

from __future__ import annotations

import contextlib
import io
import json

SAMPLE_QUESTION = "What did the US rule out?"


def ask_json(index_dir, question: str = SAMPLE_QUESTION) -> dict:
    from qa.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["ask", question, "--index", str(index_dir), "--json"]) == 0
    return json.loads(printed.getvalue())


def same_answer(record: dict, expected: dict) -> None:
    """Equal but for the timings, which differ from run to run."""
    assert {k: v for k, v in record.items() if k != "timings_ms"} == \
        {k: v for k, v in expected.items() if k != "timings_ms"}
