"""One way to configure: defaults < groundqa.toml < QA_<SETTING> < flags, each shown with its source."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from qa.errors import UserError
from qa.settings import Settings, resolve


def qa(cwd, *argv, env=None):
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | (env or {})
    return subprocess.run([sys.executable, "-m", "qa.cli", *argv], cwd=cwd, env=environ | {"PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)


def test_each_setting_shows_its_source_from_file_environment_and_flag(tmp_path):
    (tmp_path / "groundqa.toml").write_text("top_k = 12\nabstain_below = 0.3\n[limits]\nmax_file_bytes = 1000\n")
    done = qa(tmp_path, "config", "--json", "--set", "abstain_below=0.6", env={"QA_CANDIDATES": "25"})
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["top_k"] == {"value": 12, "source": "file"}
    assert shown["candidates"] == {"value": 25, "source": "env"}
    assert shown["abstain_below"] == {"value": 0.6, "source": "flag"}  # the flag beats the file
    assert shown["limits.max_file_bytes"] == {"value": 1000, "source": "file"}
    assert shown["rrf_k"]["source"] == "default"
    assert shown["index_dir"] == {"value": "index/default", "source": "default"}
    assert set(shown) >= {f"limits.{name}" for name in Settings().describe()["limits"]}


def test_precedence_is_default_file_environment_flag(tmp_path):
    config = tmp_path / "other.toml"
    config.write_text("top_k = 11\nmax_claims = 2\n")
    resolved = resolve(config, {"top_k": "13"}, environ={"QA_TOP_K": "12", "QA_MAX_CLAIMS": "4"})
    assert resolved.settings.top_k == 13 and resolved.sources["top_k"] == "flag"
    assert resolved.settings.max_claims == 4 and resolved.sources["max_claims"] == "env"
    assert resolved.config_file == config


@pytest.mark.parametrize(("text", "message"), [
    ("top_kk = 3\n", "Unknown setting 'top_kk'"),
    ("top_k = 'many'\n", "top_k = 'many' .* is not a whole number"),
    ("embed_title = 1\n", "embed_title = 1 .* is not true or false"),
    ("top_k = [\n", "not valid TOML"),
    ("[limits]\nmax_pages = 3\n", "Unknown setting 'max_pages'"),
    ("retrieval = 'hybird'\n", "not one of hybrid, dense, bm25"),
    ("index_dir = ''\n", "index_dir .* is empty"),
    ("abstain_below = nan\n", "is not a number"),
    (b"top_k = 3 # \xff\n", "not valid TOML"),
])
def test_a_bad_config_file_is_refused_naming_what_is_wrong(tmp_path, text, message):
    config = tmp_path / "groundqa.toml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(UserError, match=message):
        resolve(config, environ={})


def test_every_setting_has_its_variable_and_the_short_old_names_still_work():
    assert resolve(None, environ={"QA_INDEX_DIR": "/a"}).settings.index_dir == Path("/a")
    assert resolve(None, environ={"QA_INDEX": "/b"}).settings.index_dir == Path("/b")
    assert resolve(None, environ={"QA_STORE": "x.db"}).settings.vector_store == "x.db"
    assert resolve(None, environ={"QA_PDF_SECONDS": "inf"}).settings.limits.pdf_seconds == float("inf")


def test_json_output_stays_json_with_an_infinite_limit(tmp_path):
    done = qa(tmp_path, "config", "--json", env={"QA_PDF_SECONDS": "inf"})
    assert json.loads(done.stdout)["limits.pdf_seconds"] == {"value": "inf", "source": "env"}


def test_bad_environment_and_flag_values_are_refused_clearly(tmp_path):
    with pytest.raises(UserError, match="QA_ABSTAIN_BELOW"):
        resolve(None, environ={"QA_ABSTAIN_BELOW": "high"})
    done = qa(tmp_path, "config", "--set", "top_k")
    assert done.returncode == 1 and "NAME=VALUE" in done.stderr and "Traceback" not in done.stderr


def test_a_setting_from_the_environment_reaches_an_answer(sample_index):
    resolved = resolve(None, {"index_dir": str(sample_index)}, environ={"QA_MAX_CLAIMS": "1"})
    from qa.assistant import Assistant

    answer = Assistant(resolved.settings).ask("What did the US rule out?")
    assert len({c.claim for c in answer.citations}) == 1


@pytest.mark.parametrize("setting, value, need", [
    ("top_k", "0", "at least 1"),  # ran, and abstained on every question
    ("candidates", "-1", "at least 1"),  # failed inside FAISS with a traceback
    ("abstain_below", "2", "between 0 and 1"),
    ("window", "-1", "at least 0"),
    ("max_file_bytes", "0", "greater than 0"),
])
def test_a_setting_out_of_range_is_refused_naming_it_and_its_range(tmp_path, setting, value, need):
    done = qa(tmp_path, "ask", "What did the US rule out?", "--set", f"{setting}={value}")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{setting} = " in done.stderr and f"(from a flag) is out of range: it must be {need}" in done.stderr
    with pytest.raises(UserError, match=f"{setting} = .* must be {need}"):
        resolve(None, environ={f"QA_{setting.upper()}": value})
    assert resolve(None, environ={"QA_ABSTAIN_BELOW": "0", "QA_WINDOW": "0"}).settings.abstain_below == 0.0
