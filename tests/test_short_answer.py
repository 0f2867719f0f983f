"""The shipped short-answer model: loads offline, agrees with the framework it was trained in,
refuses a damaged file, finds the answer words in real sentences, and keeps quiet when unsure."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT
from models_helpers import damaged_copy, other_format_copy

from qa.metrics import normalize
from qa.short_answer import Pick, ShortAnswerError, ShortAnswers, model_files

# The int8 export's largest allowed distance from torch's span probability on the probes that
# eval/train_short_answer.py recorded (it refuses to write a model further off than this too, or
# one that picks another answer). Looser than the reader's 0.05: a span probability is a product
# of two softmaxes, which magnifies quantization error (the shipped file: 0.12 at most).
PROBE_TOLERANCE = 0.15

FT = "US to Back Ukraine’s Postwar Security With Intelligence and Air Defense, FT Reports"  # corpus/001_…


@pytest.fixture(scope="module")
def short_answers() -> ShortAnswers:
    return ShortAnswers.shared(model_files()[0])


def test_the_shipped_model_matches_its_torch_probabilities_on_the_recorded_probes(short_answers):
    meta = json.loads(model_files()[1].read_text())
    for probe in meta["probes"]:
        best = short_answers.best(probe["question"], probe["title"], probe["sentence"])
        got = best.probability if best else 0.0
        assert abs(got - (probe["torch_probability"] or 0.0)) <= PROBE_TOLERANCE, probe
        assert normalize(best.text if best else "") == normalize(probe["torch_text"] or "")  # "the X" is "X"
    assert meta["seed"] and meta["training_data"] and meta["held_out_figures"]
    assert 0 < meta["lead_threshold"] < 1 and meta["at_lead_threshold"]["precision"] >= 0.85


def test_a_damaged_model_is_refused_with_what_to_do(tmp_path):
    onnx_file, meta_file = model_files()
    damaged = damaged_copy(onnx_file, tmp_path)
    with pytest.raises(ShortAnswerError, match="damaged.*reinstall.*train_short_answer"):
        ShortAnswers(damaged, meta_file).pick("q", "t", "s")
    with pytest.raises(ShortAnswerError, match="missing"):
        ShortAnswers(tmp_path / "absent.onnx", meta_file).pick("q", "t", "s")


def test_a_model_trained_for_another_input_is_refused(tmp_path):
    onnx_file, meta_file = model_files()
    other = other_format_copy(meta_file, tmp_path)
    with pytest.raises(ShortAnswerError, match="train_short_answer"):
        ShortAnswers(onnx_file, other).pick("q", "t", "s")


@pytest.mark.parametrize(("question", "title", "sentence", "expected"), [
    ("Which publication broke the story?", "US weighs security guarantees",
     "The plan was first reported by the Financial Times on August 26.", "Financial Times"),
    ("When was the plan first reported?", "US weighs security guarantees",
     "The plan was first reported by the Financial Times on August 26.", "August 26"),
    ("Where are the air defense systems being kept at the moment?", FT,
     (" The systems, currently in Germany, will be delivered soon, with the US agreeing to replace them and "
      "Norway covering restoration costs."), "Germany"),
    ("How much money did Norway contribute?", FT,  # the model leaves the "$" out: normalized, it matches
     ("Earlier, Germany and Norway announced a joint effort to supply Ukraine with two additional Patriot air "
      "defense systems, funded through Norway’s $685 million contribution."), "$685 million"),
    ("When was the Eiffel Tower completed?", "",  # no title: passage() is the sentence itself
     "The Eiffel Tower was completed in 1889 as the entrance arch to the World's Fair.", "1889"),
])
def test_the_answer_words_are_found_in_real_sentences(short_answers, question, title, sentence, expected):
    best = short_answers.best(question, title, sentence)
    assert best is not None and normalize(best.text) == normalize(expected)
    assert sentence[best.start : best.end] == best.text


# Only these two are sure enough to lead with: the shipped model finds "Financial Times" (0.17),
# "Germany" (0.26) and "685 million" (0.26) too, below its lead_threshold (0.45).
@pytest.mark.parametrize(("question", "title", "sentence", "expected"), [
    ("When was the plan first reported?", "US weighs security guarantees",
     "The plan was first reported by the Financial Times on August 26.", "August 26"),
    ("When was the Eiffel Tower completed?", "",
     "The Eiffel Tower was completed in 1889 as the entrance arch to the World's Fair.", "1889"),
])
def test_a_sure_answer_is_picked_to_lead(short_answers, question, title, sentence, expected):
    pick = short_answers.pick(question, title, sentence)
    assert pick is not None and pick.text == expected == sentence[pick.start : pick.end]
    assert short_answers.lead_threshold <= pick.probability <= 1


@pytest.mark.parametrize(("question", "title", "sentence"), [
    ("Who reported the plan?", "", "(The plan was reported by “Reuters”.)"),
    ("What did the officials say?", "Officials", "Officials said the talks would resume in Geneva."),  # title starts it
    ("Where?", "A title", "  Spaces   around,  and   inside  .  "),
    ("How many goals did he score?", "Football", "He scored " + "many " * 300 + "goals."),  # cut by MAX_TOKENS
])
def test_the_text_is_always_the_sentence_between_its_offsets(short_answers, question, title, sentence):
    best = short_answers.best(question, title, sentence)
    if best is not None:
        assert isinstance(best, Pick) and best.text == sentence[best.start : best.end]
        assert best.text == best.text.strip() and best.text


def test_no_short_answer_when_the_sentence_does_not_answer(short_answers):
    sentence = "Officials declined to comment on the timing of the talks."
    assert short_answers.pick("Who won the match?", "US weighs security guarantees", sentence) is None
    assert short_answers.best("Who won the match?", "US weighs security guarantees", sentence) is not None


def test_one_model_per_process_and_no_heavy_imports_until_used(short_answers):
    assert ShortAnswers.shared(model_files()[0]) is short_answers
    script = ("import sys, qa.short_answer; "
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'onnxruntime', 'tokenizers'}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
