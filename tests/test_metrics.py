"""Strict sentence matching, exact match, the bootstrap intervals and the traceability stamp."""

import numpy as np
import pytest

from qa import evaluate
from qa.metrics import Span, aggregate, bootstrap, exact_match, match, score, terms


def test_strict_match_needs_most_of_both_sentences():
    gold = Span("d", 100, 200)
    assert Span("d", 102, 200).same_sentence(gold)  # another splitter, a quote mark apart
    assert not Span("d", 150, 260).same_sentence(gold)  # half of the gold: lenient only
    assert Span("d", 150, 260).overlaps(gold)
    assert not Span("d", 0, 400).same_sentence(gold)  # a paragraph holding the sentence
    assert not Span("e", 100, 200).same_sentence(gold)


def test_a_citation_overlapping_two_gold_sentences_is_strictly_at_most_one():
    gold = [Span("d", 0, 10), Span("d", 10, 30)]
    m = match([Span("d", 5, 28)], [], gold)
    assert m.citations_on_gold == (True,) and m.gold_cited == (True, True)
    assert m.citations_on_gold_strict == (True,) and m.gold_cited_strict == (False, True)


def test_exact_match_is_squad_normalized_equality():
    assert exact_match("The Eiffel Tower.", ["eiffel tower"])
    assert not exact_match("the Eiffel Tower in Paris", ["eiffel tower"])
    assert not exact_match("", ["", " "])


def test_unanswerable_citations_count_only_in_the_all_questions_precision():
    cited = match([Span("d", 0, 5)], [], [])
    answered = score("y [1].", False, [], False, cited, 1.0, 0.5)
    abstained = score("no", True, [], False, match([], [], []), 1.0, None)
    assert terms(answered)["citation_precision_all_questions"] == (0.0, 1.0)
    assert terms(abstained)["citation_precision_all_questions"] == (0.0, 0.0)
    assert terms(answered)["citation_precision"] == (0.0, 0.0)


def test_intervals_are_seeded_and_cover_the_figure():
    values = np.array([1.0] * 30 + [0.0] * 10)
    whole = np.ones_like(values)
    mean = {"m": lambda rows: values[rows].sum(axis=1) / whole[rows].sum(axis=1)}
    low, high = bootstrap(len(values), mean)["m"]
    assert low < 0.75 < high and high - low < 0.35
    assert bootstrap(len(values), mean) == bootstrap(len(values), mean)
    assert bootstrap(0, mean) == {"m": None}
    constant = aggregate([score("x", False, ["x"], True, match([], [], []), 5.0, 0.9)] * 20)
    assert constant["ci95"]["answer_str_em"] == [1.0, 1.0] and constant["ci95"]["latency_p50_ms"] == [5.0, 5.0]


def test_the_code_version_outside_a_checkout_is_none(monkeypatch, tmp_path):
    from qa import files

    monkeypatch.setattr(files, "CHECKOUT", tmp_path)  # no .git here: an installed copy
    files.code_version.cache_clear()
    try:
        assert files.code_version() == {"commit": None, "uncommitted_changes": None}
        (tmp_path / ".git").mkdir()  # a .git git cannot read
        files.code_version.cache_clear()
        assert files.code_version()["commit"] is None
    finally:
        files.code_version.cache_clear()


@pytest.mark.parametrize("answerer", ["extractive", "gguf"])
def test_model_files_name_what_the_answerer_uses(answerer, encoder):
    from qa.settings import Settings

    settings = Settings(gguf_path="smollm2")
    files = evaluate.model_files(settings, answerer)
    assert files["citer"].name == "citer.json" and files["encoder_weights"].is_file()
    assert ("gguf" in files) == (answerer == "gguf")
    assert "citer" not in evaluate.model_files(settings.with_(citer=""), answerer)


@pytest.mark.parametrize("tool", ["calibrate.py", "retrieval.py", "train_citer.py"])
def test_tuning_tools_refuse_test_splits(tool):
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run([sys.executable, str(ROOT / "eval" / tool), "eval/sample_gold.jsonl", "--index", "x",
                           "--split", "test"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "test splits are for reporting" in done.stderr


def _run(sets: dict[str, list[tuple[bool, bool]]]) -> dict:
    """A calibrate_reader --scores run: per set, (answerable, abstained) per question."""
    from qa.metrics import Scores

    return {"reader": "r", "chosen": {}, "sets": {
        name: {f"q{i}\t?": Scores(answerable, abstained, 0.0, None).to_json()
               for i, (answerable, abstained) in enumerate(rows)} for name, rows in sets.items()}}


def test_a_candidate_reader_replaces_the_shipped_one_only_for_a_gain_beyond_noise_and_no_loss_beyond_it():
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("compare_readers", ROOT / "eval" / "compare_readers.py")
    compare_readers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare_readers)

    def answerable(n, abstained):
        return [(True, i < abstained) for i in range(n)]

    shipped = _run({"large": answerable(400, 40), "small": answerable(15, 0)})
    # One more abstention of 15 on the small set is noise; 40 -> 10 of 400 is not.
    replace, lines = compare_readers.verdict(shipped, _run({"large": answerable(400, 10), "small": answerable(15, 1)}), 0.02)
    assert replace and "improved: large false_abstention" in lines[-2]
    # The same gain does not buy a loss beyond the small set's noise.
    replace, lines = compare_readers.verdict(shipped, _run({"large": answerable(400, 10), "small": answerable(15, 8)}), 0.02)
    assert not replace and "regressed: small false_abstention" in lines[-2]
    # Nothing beyond noise either way keeps what ships.
    replace, _ = compare_readers.verdict(shipped, _run({"large": answerable(400, 38), "small": answerable(15, 0)}), 0.02)
    assert not replace
