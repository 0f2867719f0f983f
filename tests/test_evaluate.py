import argparse
import json

import pytest
from conftest import BENCHMARKS, CORPUS, ROOT

from qa import evaluate
from qa.cli import main
from qa.settings import Settings
from qa.evaluate import digest, read_gold, select
from qa.metrics import (
    HIGHER_IS_BETTER,
    Scores,
    Span,
    abstention_curve,
    aggregate,
    compare,
    contains_answer,
    gold_spans,
    locate,
    match,
    normalize,
    score,
    token_f1,
)

GOLD = ROOT / "eval" / "sample_gold.jsonl"
REQUIRED = set(HIGHER_IS_BETTER) | {"counts", "ci95"}


# --- metrics ---------------------------------------------------------------------------------
def test_squad_normalization():
    assert normalize("The  U.S. ruled out ground-troops!") == "us ruled out groundtroops"
    assert normalize("An apple, a pear and the plum") == "apple pear and plum"
    assert normalize("“Coalition of the Willing” [1][2].") == "coalition of willing"


def test_contains_answer_matches_whole_words_only():
    assert contains_answer("About 10 countries [1].", ["10 countries"])
    assert not contains_answer("About 100 countries.", ["10 countries"])
    assert not contains_answer("Anything at all.", ["", "  "])
    # A citation marker is not the number one.
    assert not contains_answer("The pact [1].", ["1"])


def test_token_f1_against_the_best_gold():
    assert token_f1("ground troops", ["troops", "ground troops"]) == 1.0
    assert token_f1("deploying ground troops", ["ground troops"]) == pytest.approx(0.8)
    assert token_f1("nothing shared", ["ground troops"]) == 0.0


def test_span_overlap_is_per_document_and_half_open():
    a = Span("a.txt", 10, 20)
    assert a.overlaps(Span("a.txt", 19, 30)) and a.overlaps(Span("a.txt", 0, 11))
    assert not a.overlaps(Span("a.txt", 20, 30))  # touching is not overlapping
    assert not a.overlaps(Span("b.txt", 10, 20))


def test_gold_sentences_are_located_by_text_then_by_their_own_spans():
    texts = {"d": "First one. Second one here."}
    assert locate({"doc_id": "d", "sentence": " Second one here. "}, texts) == Span("d", 11, 27)
    # The gold's splitter changed the text (say, its whitespace): its own offsets still place it.
    item = {"doc_id": "d", "sent_idx": 1, "sentence": "Second  one here."}
    assert locate(item, texts) is None
    assert locate(item, texts, {"d": [[0, 10], [11, 27]]}) == Span("d", 11, 27)
    assert locate({"doc_id": "missing", "sentence": "First one."}, texts) is None
    assert gold_spans([item, {"doc_id": "d", "sentence": "First one."}], texts) == [Span("d", 0, 10)]


def test_matches_and_scores_of_one_answer():
    gold = [Span("d", 0, 10), Span("d", 20, 30), None]  # the third gold sentence was not found
    m = match(cited=[Span("d", 5, 15), Span("d", 40, 50)], retrieved=[Span("d", 0, 10), Span("d", 25, 35)], gold=gold)
    assert m.citations_on_gold == (True, False)
    assert (m.gold_located, m.gold_cited, m.gold_retrieved) == ((True, True, False), (True, False, False), (True, True, False))
    # Half of the citation lies in the gold sentence: lenient counts it, strict does not.
    assert m.citations_on_gold_strict == (False, False) and m.gold_cited_strict == (False, False, False)
    s = score("They said ground troops [1][2].", False, ["ground troops"], True, m, 12.0, 0.7)
    assert s.found and s.f1 == pytest.approx(2 * (2 / 4) / (2 / 4 + 1))
    assert (s.citation_precision, s.citation_recall) == (0.5, pytest.approx(1 / 3))
    assert s.citation_f1_strict == 0.0 and not s.answer_em
    short = score("They said ground troops [1][2].", False, ["ground troops"], True, m, 12.0, 0.7, short_answer="Ground troops")
    assert short.answer_em and short.answer_token_f1 == 1.0 and short.f1 == s.f1
    assert s.gold_retrieved == 2 and s.gold == 3 and s.gold_located == 2

    nothing = match([], [], gold)
    abstained = score("The documents don't say. Nothing answers “ground troops?”", True, ["ground troops"], True,
                      nothing, 9.0, 0.3, answer_without_threshold="Ground troops [1].")
    assert not abstained.found and abstained.f1 == 0 and abstained.citation_f1 == 0
    assert abstained.found_without_threshold  # what a lower threshold would have answered


def test_aggregate_counts_abstentions_as_misses_and_says_what_it_cannot_tell():
    gold = [Span("d", 0, 10)]
    right = score("x y", False, ["x"], True, match([Span("d", 0, 5)], [Span("d", 0, 5)], gold), 10.0, 0.8)
    missed = score("abstain", True, ["x"], True, match([], [], gold), 30.0, None)
    wrongly_answered = score("x", False, [], False, match([Span("d", 0, 5)], [], []), 20.0, 0.5)
    m = aggregate([right, missed, wrongly_answered])
    assert m["answer_str_em"] == 0.5 and m["false_abstention"] == 0.5
    assert m["citation_precision"] == 0.5 and m["citation_precision_micro"] == 1.0
    # The unanswerable question's citation counts as wrong only in the all-questions precision.
    assert m["citation_precision_all_questions"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["citation_precision_strict"] == 0.0  # d 0-5 is not the gold sentence d 0-10
    assert m["unanswerable_abstained"] == 0.0 and m["overall_correct"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["latency_p50_ms"] == 20.0
    assert m["counts"] == {"questions": 3, "answerable": 2, "unanswerable": 1, "answered": 2, "abstained": 1,
                           "with_gold_sentences": 2, "citations": 1, "gold_sentences": 2,
                           "gold_sentences_not_located": 0, "unanswerable_answered_with_citations": 1,
                           "llm_claims_removed": 0}
    assert set(m["ci95"]) == set(HIGHER_IS_BETTER)
    assert aggregate([right])["unanswerable_abstained"] is None and aggregate([right])["ci95"]["unanswerable_abstained"] is None


def test_abstention_curve_from_confidences():
    none = match([], [], [])
    answered = score("x [1].", False, ["x"], True, none, 1.0, 0.8, answer_without_threshold="x [1].")
    abstained = score("abstain", True, ["x"], True, none, 1.0, 0.3, answer_without_threshold="x.")
    unanswerable_answered = score("y.", False, [], False, none, 1.0, 0.5, answer_without_threshold="y.")
    nothing_retrieved = score("abstain", True, [], False, none, 1.0, None)
    curve = abstention_curve([answered, abstained, unanswerable_answered, nothing_retrieved], [0.0, 0.4, 0.6, 0.9])
    assert [(p["precision"], p["coverage"], p["unanswerable_abstained"]) for p in curve] == [
        (pytest.approx(2 / 3, abs=1e-4), 1.0, 0.5), (0.5, 0.5, 0.5), (1.0, 0.5, 1.0), (None, 0.0, 1.0)]


def _answered(found: bool, abstained: bool = False) -> Scores:
    return score("x" if found else "y", abstained, ["x"], True, match([], [], []), 10.0, 0.5)


def _gate(before: dict, after: dict, max_drop: float = 0.02, latency: tuple = (10.0, 10.0)) -> dict:
    figures = [{"latency_p50_ms": ms, "latency_p95_ms": ms} for ms in latency]
    return {c.metric: c for c in compare(before, after, *figures, max_drop=max_drop, max_slowdown=1.0)}


def test_gate_fails_on_a_consistent_drop_not_on_a_few_flipped_questions():
    before = {f"q{i}": _answered(True) for i in range(40)}
    few = dict(before, q0=_answered(False), q1=_answered(False))  # 0.05 worse, from 2 of 40 questions
    change = _gate(before, few)["answer_str_em"]
    assert change.worse_by == 0.05 and change.interval[0] <= 0 and not change.failed
    many = {key: _answered(i % 4 != 0) for i, key in enumerate(before)}  # 10 of 40 worse
    change = _gate(before, many)["answer_str_em"]
    assert change.worse_by == 0.25 and change.interval[0] > 0 and change.failed
    assert not _gate(before, many, max_drop=0.3)["answer_str_em"].failed  # --max-drop still holds
    # Direction: more abstention is worse; a question only one run has is left out.
    abstaining = {key: _answered(False, abstained=i % 2 == 0) for i, key in enumerate(before)} | {"new": _answered(True)}
    changes = _gate(before, abstaining)
    assert changes["false_abstention"].failed and changes["false_abstention"].before == 0.0
    assert changes["unanswerable_abstained"].worse_by is None and not changes["unanswerable_abstained"].failed
    assert not any(c.failed for c in _gate(many, before).values())  # better is never a regression
    slower = _gate(before, before, latency=(10.0, 18.0))["latency_p50_ms"]
    assert slower.worse_by == pytest.approx(0.8) and not slower.failed


# --- gold files ------------------------------------------------------------------------------
def test_split_and_limit_select_a_fixed_sample():
    questions = read_gold(GOLD)
    dev = select(questions, "dev", 0)
    assert dev and all(q.split == "dev" for q in dev)
    assert [q.id for q in select(questions, None, 5)] == [q.id for q in select(questions, None, 5)]
    assert len(select(questions, None, 5)) == 5 and len(select(questions, None, 500)) == len(questions)


def test_csv_gold_with_and_without_a_header(tmp_path):
    (tmp_path / "h.csv").write_text('question,answer\n"Who, if anyone, leads it?",UK and France\nWhat is the capital of Peru?,\n')
    (tmp_path / "n.csv").write_text("What did the US rule out?,ground troops\n")
    with_header = read_gold(tmp_path / "h.csv")
    assert [(q.question, q.answers, q.answerable) for q in with_header] == [
        ("Who, if anyone, leads it?", ("UK and France",), True), ("What is the capital of Peru?", (), False)]
    assert read_gold(tmp_path / "n.csv")[0].answers == ("ground troops",)


def test_committed_baseline_is_of_the_sample_gold_set():
    """The CI gate compares against it: a full metrics.json of these very questions, with each
    question's scores in the results.jsonl beside it."""
    baseline, scores = evaluate.read_baseline(ROOT / "eval" / "baseline" / "metrics.json")
    assert REQUIRED <= set(baseline)
    assert baseline["run"]["questions_sha256"] == digest(read_gold(GOLD))
    assert baseline["run"]["setting"] == "open" and baseline["run"]["limit"] is None
    assert set(scores) == {evaluate.question_key(q.id, q.question) for q in read_gold(GOLD)}
    assert baseline["run"]["git"]["commit"] and baseline["run"]["settings"]["abstain_below"] == Settings().abstain_below


# --- the command, end to end -----------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, encoder):
    """`qa eval` on the sample gold set with a temporary index built from corpus/."""
    out = tmp_path_factory.mktemp("eval") / "out"
    status = main(["eval", str(GOLD), "--docs", str(CORPUS), "--out", str(out), "--quiet"])
    return status, out


def test_sample_gold_set_end_to_end(sample_run):
    status, out = sample_run
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert REQUIRED <= set(metrics)
    assert metrics["counts"]["questions"] == 38
    assert (metrics["counts"]["answerable"], metrics["counts"]["unanswerable"]) == (30, 8)
    for name in HIGHER_IS_BETTER:
        if not name.startswith("latency"):
            assert 0 <= metrics[name] <= 1, name
    assert 0 < metrics["latency_p50_ms"] <= metrics["latency_p95_ms"]
    # Robust facts about the sample corpus, not tuned figures.
    assert metrics["retrieval_recall_at_10"] >= 0.9 and metrics["answer_str_em"] >= 0.5
    assert metrics["run"]["documents"] == 2 and metrics["run"]["sentences"] == 35
    for name, (low, high) in metrics["ci95"].items():
        assert low <= metrics[name] <= high, name
    assert metrics["ci95"]["answer_str_em"][1] - metrics["ci95"]["answer_str_em"][0] > 0.05  # 30 questions: wide
    # What the figures can be traced to.
    run = metrics["run"]
    assert run["settings"]["abstain_below"] == Settings().abstain_below and run["settings"]["llm_api_key"] == ""
    assert len(run["git"]["commit"]) == 40
    assert {"encoder_weights", "encoder_onnx_fp32", "encoder_onnx_int8", "citer", "reader", "reader_json"} <= set(run["models"])
    assert all(len(model["sha256"]) == 64 for model in run["models"].values())

    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 38
    first = next(line for line in lines if line["id"] == "sample-01")
    assert "ground troops" in first["answer"] and not first["abstained"]
    assert any(c["on_gold"] for c in first["citations"]) and all(g["retrieved"] for g in first["gold_sentences"])
    assert first["scores"]["citation_f1_strict"] == first["scores"]["citation_f1"]  # the corpus' own sentences

    report = (out / "report.md").read_text()
    assert "## Headline" in report and "## Worst failures" in report
    for plot in ("headline.png", "latency.png", "abstention.png"):
        assert f"]({plot})" in report
        data = (out / plot).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5_000


def test_gate_passes_the_same_questions_in_another_order(sample_run, sample_index, tmp_path):
    _, first = sample_run
    shuffled = tmp_path / "shuffled.jsonl"
    lines = GOLD.read_text().splitlines()
    shuffled.write_text("\n".join(lines[1::2] + lines[::2][::-1]) + "\n")
    out = tmp_path / "same"
    argv = ["eval", str(shuffled), "--index", str(sample_index), "--quiet", "--max-slowdown", "inf"]
    assert main([*argv, "--out", str(out), "--baseline", str(first / "metrics.json")]) == 0
    report = (out / "report.md").read_text()
    assert "REGRESSED" not in report and "another question set" not in report
    rows = {line.split(" | ")[0].lstrip("| "): line for line in report.splitlines() if line.startswith("| ")}
    for name in HIGHER_IS_BETTER:
        if not name.startswith("latency"):  # timed again: it may move either way, or by chance not at all
            assert "| no change |" in rows[name], rows[name]


def test_gate_fails_a_planted_regression(sample_run, sample_index, tmp_path, capsys):
    """The real pipeline, made worse on purpose: it abstains below 0.75, well above the calibrated threshold."""
    _, first = sample_run
    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    args = parser.parse_args([str(GOLD), "--index", str(sample_index), "--out", str(tmp_path / "worse"), "--quiet",
                              "--max-slowdown", "inf", "--baseline", str(first / "metrics.json")])
    capsys.readouterr()
    worse = Settings(index_dir=sample_index, abstain_below=0.75)
    assert evaluate.run(args, worse) == evaluate.REGRESSED
    captured = capsys.readouterr()
    assert "false_abstention" in captured.err and "citation_recall" in captured.err and "latency" not in captured.err
    assert "**REGRESSED**" in (tmp_path / "worse" / "report.md").read_text()


def test_gate_needs_the_baselines_question_scores(sample_run, sample_index, tmp_path, capsys):
    _, first = sample_run
    (tmp_path / "metrics.json").write_text((first / "metrics.json").read_text())
    argv = ["eval", str(GOLD), "--index", str(sample_index), "--quiet", "--out", str(tmp_path / "o")]
    assert main([*argv, "--baseline", str(tmp_path / "metrics.json")]) == 1
    assert "results.jsonl" in capsys.readouterr().err


def test_csv_gold_end_to_end(sample_index, tmp_path):
    gold = tmp_path / "gold.csv"
    gold.write_text("question,answer\nWhat did the US rule out?,ground troops\nWhat is the capital of Peru?,\n")
    assert main(["eval", str(gold), "--index", str(sample_index), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["answer_str_em"] == 1.0 and metrics["unanswerable_abstained"] == 1.0
    assert metrics["citation_precision"] is None and metrics["retrieval_recall_at_10"] is None


def test_distractor_setting_retrieves_only_the_candidates(sample_index, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "us", "question": "What did the US rule out?", "answers": ["ground troops"],
                                "answerable": True, "supporting": [],
                                "candidate_doc_ids": ["001_7b5fe780b854878b.txt"]}) + "\n")
    out = tmp_path / "out"
    assert main(["eval", str(gold), "--index", str(sample_index), "--setting", "distractor", "--out", str(out), "--quiet"]) == 0
    line = json.loads((out / "results.jsonl").read_text())
    assert line["citations"] and {c["doc_id"] for c in line["citations"]} == {"001_7b5fe780b854878b.txt"}


def test_user_errors_are_messages(sample_index, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "fine?", "answers": []}\n{"answers": ["no question"]}\n')
    common = ["--index", str(sample_index), "--out", str(tmp_path / "o"), "--quiet"]
    assert main(["eval", str(bad), *common]) == 1
    assert "line 2" in capsys.readouterr().err
    assert main(["eval", str(GOLD), "--split", "nope", *common]) == 1
    assert "dev, test" in capsys.readouterr().err
    assert main(["eval", str(GOLD), "--setting", "distractor", *common]) == 1
    assert "candidate_doc_ids" in capsys.readouterr().err
    assert main(["eval", str(GOLD), "--docs", str(tmp_path / "missing"), *common]) == 1


@pytest.mark.skipif(not BENCHMARKS.is_dir(), reason="../shared/benchmarks is absent")
def test_hotpotqa_questions_in_the_distractor_setting(tmp_path, encoder):
    """Real benchmark records: five test questions and only their candidate paragraphs."""
    questions = [json.loads(line) for line in (BENCHMARKS / "hotpotqa" / "questions.jsonl").open()]
    chosen = [q for q in questions if q["split"] == "test"][:5]
    wanted = {d for q in chosen for d in q["candidate_doc_ids"]}
    docs = [line for line in (BENCHMARKS / "hotpotqa" / "documents.jsonl").open() if json.loads(line)["doc_id"] in wanted]
    (tmp_path / "documents.jsonl").write_text("".join(docs))
    (tmp_path / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in chosen))
    out = tmp_path / "out"
    status = main(["eval", str(tmp_path / "questions.jsonl"), "--docs", str(tmp_path / "documents.jsonl"),
                   "--setting", "distractor", "--split", "test", "--out", str(out), "--quiet"])
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["counts"]["gold_sentences_not_located"] == 0 and metrics["counts"]["questions"] == 5
    assert metrics["retrieval_recall_at_10"] > 0.5
    for line in (out / "results.jsonl").read_text().splitlines():
        result = json.loads(line)
        candidates = next(q["candidate_doc_ids"] for q in chosen if q["id"] == result["id"])
        assert all(c["doc_id"] in candidates for c in result["citations"])


def test_llm_sentences_the_claim_check_removed_are_counted(sample_index, tmp_path):
    """An LLM answer (a scripted OpenAI-compatible stand-in) with two claims the documents do not support."""
    from openai_standin import ChatStandIn, sentence_number

    def reply(prompt):
        troops = sentence_number(prompt, "ruled out deploying ground troops")
        return f"The US ruled out deploying ground troops [S{troops}]. Paris is the capital of France [S{troops}]. The moon is cheese."

    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "us", "question": "What did the US rule out?", "answers": ["ground troops"]}) + "\n")
    standin = ChatStandIn(reply)
    try:
        parser = argparse.ArgumentParser()
        evaluate.add_arguments(parser)
        args = parser.parse_args([str(gold), "--index", str(sample_index), "--out", str(tmp_path / "out"), "--quiet"])
        settings = Settings(index_dir=sample_index, answerer="openai", llm_base_url=standin.url, llm_model="stand-in")
        assert evaluate.run(args, settings) == 0
    finally:
        standin.close()
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["run"]["answerer"] == "openai" and metrics["answer_str_em"] == 1.0
    assert metrics["counts"]["llm_claims_removed"] == 2
