import json
import os
import subprocess
import sys

from conftest import CORPUS, GROUND_TROOPS, ROOT

QA = [sys.executable, "-m", "qa.cli"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def qa(*args, stdin=None, cwd=None):
    return subprocess.run([*QA, *map(str, args)], input=stdin, capture_output=True, text=True, env=ENV, timeout=300,
                          cwd=cwd)


def test_help_is_fast_and_loads_no_heavy_library():
    probe = "import sys, qa.cli; qa.cli._parser(); print(sorted(m for m in ('torch', 'gradio', 'slack_bolt', 'faiss', 'sentence_transformers') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=ENV)
    assert done.stdout.strip() == "[]", done.stderr
    assert "ingest" in qa("--help").stdout


def test_ingest_then_ask_json(tmp_path):
    index = tmp_path / "index"
    done = qa("ingest", CORPUS, "--index", index, "--quiet")
    assert done.returncode == 0, done.stderr
    assert "2 documents, 35 sentences" in done.stdout

    done = qa("ask", "What did the US rule out?", "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer) >= {"question", "answer", "abstained", "citations", "timings_ms"}
    assert answer["abstained"] is False and "ground troops" in answer["answer"]
    citation = answer["citations"][0]
    assert set(citation) >= {"id", "doc_id", "sentence_index", "start", "end", "text", "page", "score"}
    assert set(GROUND_TROOPS.items()) <= {(c["doc_id"], c["sentence_index"]) for c in answer["citations"]}

    text = qa("ask", "What did the US rule out?", "--index", index).stdout
    assert "ground troops" in text and "000_03cab0ef675863a0.txt, sentence 7" in text

    lines = "\n".join([
        json.dumps({"question": "Who leads the Coalition of the Willing?"}),
        json.dumps({"question": "How many countries are ready to send personnel to it?",
                    "history": ["Who leads the Coalition of the Willing?"]}),
        json.dumps({"question": "  "}),
        "not json",
        json.dumps({"q": "Who leads the Coalition of the Willing?"}),
        json.dumps("Who leads the Coalition of the Willing?"),
    ])
    done = qa("ask", "--jsonl", "--index", index, stdin=lines)
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == 6
    assert "10 countries" in out[1]["answer"]
    assert "line 3" in out[2]["error"] and "empty" in out[2]["error"]
    assert "line 4: not JSON" in out[3]["error"]
    for number, record in ((5, out[4]), (6, out[5])):  # a missing key, a bare string: say what a line must be
        assert f'line {number}: each line must be a JSON object with a "question"' in record["error"]

    done = qa("ask", "Who leads it?", "--jsonl", "--index", index, stdin="")
    assert done.returncode == 1 and "not both" in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_flag_is_refused_with_its_command_s_usage():
    done = qa("ask", "What did the US rule out?", "--bogus")
    assert done.returncode == 2 and done.stderr.startswith("usage: qa ask")
    assert "qa ask: error: unrecognized arguments: --bogus" in done.stderr


def test_missing_index_and_empty_question_give_clear_messages(tmp_path):
    done = qa("ask", "Anything?", "--index", tmp_path / "nowhere")
    assert done.returncode == 1 and "qa ingest" in done.stderr and "Traceback" not in done.stderr
    done = qa("ask", "   ", "--index", tmp_path / "nowhere")
    assert done.returncode == 1 and "empty" in done.stderr


def test_ingest_exit_status_when_nothing_could_be_ingested(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    done = qa("ingest", tmp_path / "empty.txt", tmp_path / "missing", "--index", tmp_path / "i", "--quiet")
    assert done.returncode == 1
    assert "empty file" in done.stdout and "no such file or folder" in done.stdout
    assert "Traceback" not in done.stderr


def test_chat_keeps_history(sample_index):
    turns = "Who leads the Coalition of the Willing?\nHow many countries are ready to send personnel to it?\n\n"
    done = qa("chat", "--index", sample_index, stdin=turns)
    assert done.returncode == 0, done.stderr
    assert "United Kingdom and France" in done.stdout and "10 countries" in done.stdout
