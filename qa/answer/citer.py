"""The learned citer: which two title-linked documents to cite, and which of their sentences.

Two logistic regressions over plain features (CITER_FEATURES for each candidate sentence,
PAIR_FEATURES for each linked pair of retrieved documents), fitted on HotpotQA by
eval/train_citer.py and stored as plain JSON (qa/citer.json). The extractive answerer asks it
first when the likeliest document is linked by a title to another retrieved one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer.multihop import bare_title, linked, names_subject
from qa.errors import UserError
from qa.store import Index
from qa.support import Evidence, terms, terms_of
from qa.types import Sentence

CITER_FEATURES = (
    "bias", "support", "cosine", "overlap", "gap", "retrieved", "evidence_rank", "question_share",
    "head_gain", "first", "position", "near_hit", "doc_rank0", "doc_rank1", "doc_best", "doc_hits",
    "head_doc", "title_in_question", "head_names_doc", "names_head_doc", "doc_names_head", "names_unasked",
)


def citer_candidates(question: str, evidence: list[Evidence], index: Index,
                     per_document: int) -> tuple[list[Sentence], np.ndarray]:
    """The sentences a two-document citation may choose from, with one feature row each.

    Candidates are the retrieved sentences plus the first `per_document` sentences of each
    retrieved document: retrieval keeps ten sentences, and a multi-hop question's facts are often
    the ones it left out (an encyclopedia-style document's first sentence introduces the subject
    the others lean on). Every feature exists for any corpus: support (resemblance, the scale the
    weights were fitted on) and its parts where the sentence was retrieved, the share of the
    question's terms it holds and of those the best sentence lacks, retrieval and document ranks, position, and title links between the
    question, the best sentence and the candidate. A sentence naming the subject of another
    retrieved document that the question does not name is often the bridge of a two-fact question
    ("…a western film directed by Elsa Varga."): cross-fitted HotpotQA citation F1 +0.017.
    """
    head = evidence[0]
    head_sentence = head.hit.sentence
    head_title = index.documents[head_sentence.doc_id].document.title
    doc_best: dict[str, float] = {}
    doc_hits: dict[str, int] = {}
    for item in evidence:
        doc_id = item.hit.sentence.doc_id
        doc_best.setdefault(doc_id, item.resemblance)
        doc_hits[doc_id] = doc_hits.get(doc_id, 0) + 1
    doc_rank = {doc_id: rank for rank, doc_id in enumerate(doc_best)}
    retrieved = {item.hit.sentence.id: (rank, item) for rank, item in enumerate(evidence)}
    near = {(item.hit.sentence.doc_id, item.hit.sentence.index + step) for item in evidence for step in (-1, 1)}
    sentences = [item.hit.sentence for item in evidence]
    for doc_id in doc_best:
        sentences += [s for s in index.document_sentences(doc_id)[:per_document] if s.id not in retrieved]
    titles = {doc_id: index.documents[doc_id].document.title for doc_id in doc_best}
    unasked = [doc_id for doc_id, title in titles.items() if not names_subject(title, question)]
    asked = terms(question)
    held = terms_of([f"{titles[s.doc_id]} {s.text}" for s in sentences])
    doc_names_head = {doc_id: doc_id != head_sentence.doc_id and any(
        names_subject(head_title, s.text) for s in sentences if s.doc_id == doc_id) for doc_id in doc_best}
    rows = []
    for sentence, found in zip(sentences, held):
        rank, item = retrieved.get(sentence.id, (len(evidence), None))
        doc_id = sentence.doc_id
        other = doc_id != head_sentence.doc_id
        support = item.resemblance if item is not None else 0.0
        rows.append((
            1.0, support, item.cosine if item is not None else 0.0, item.overlap if item is not None else 0.0,
            head.resemblance - support, float(item is not None), 1.0 / (1 + rank),
            len(asked & found) / max(1, len(asked)), sum(head.missing.get(t, 0.0) for t in found),
            float(sentence.index == 0), 1.0 / (1 + sentence.index), float((doc_id, sentence.index) in near),
            float(doc_rank[doc_id] == 0), float(doc_rank[doc_id] == 1), doc_best[doc_id], min(doc_hits[doc_id], 4) / 4,
            float(not other), float(names_subject(titles[doc_id], question)),
            float(other and names_subject(titles[doc_id], head_sentence.text)),
            float(other and names_subject(head_title, sentence.text)), float(doc_names_head[doc_id]),
            float(any(d != doc_id and names_subject(titles[d], sentence.text) for d in unasked)),
        ))
    return sentences, np.asarray(rows, dtype=float)


PAIR_FEATURES = (
    "bias", "sum", "min", "one_in_question", "bridge", "links", "cover", "gain", "title_share", "doc_cosine",
    "title_terms",
)


def citer_pairs(question: str, evidence: list[Evidence], index: Index) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The title-linked pairs of retrieved documents a two-document citation may choose from, with
    one feature row each; "sum" and "min" (of the two documents' best sentence chances) are left
    at zero for the caller to fill in from the sentence model.

    Ranking documents one by one picks the right pair for only ~68% of HotpotQA questions; the
    pair itself says more: whether the question names one title only and that document names the
    other's (a bridge), how many title links join them, the share of the question's terms the two
    documents hold together and what the second adds to the first, how much of each title the
    question holds, how close each document's best sentence is to the question, and the largest
    share of one title's terms the other document's text holds: a link by part of a title ("the
    actress Belinda" for "Belinda Peregrín"), which whole-title links miss (cross-fitted HotpotQA
    citation F1 +0.016).
    """
    doc_ids = list(dict.fromkeys(item.hit.sentence.doc_id for item in evidence))
    pairs = [(a, b) for i, a in enumerate(doc_ids) for b in doc_ids[i + 1:] if linked(question, index, a, b)]
    if not pairs:
        return [], np.zeros((0, len(PAIR_FEATURES)))
    documents = {doc_id: index.documents[doc_id].document for doc_id in doc_ids}
    cosine: dict[str, float] = {}
    for item in evidence:
        doc_id = item.hit.sentence.doc_id
        cosine[doc_id] = max(cosine.get(doc_id, -1.0), item.cosine)
    asked = terms(question)
    n = len(doc_ids)
    found = terms_of([d.text for d in documents.values()] + [d.title for d in documents.values()]
                     + [bare_title(d.title) for d in documents.values()])  # one terms_of call for all
    body_terms, title_terms, subject_terms = (found[i * n : (i + 1) * n] for i in range(3))
    body = dict(zip(doc_ids, body_terms))
    held = {doc_id: body[doc_id] | title for doc_id, title in zip(doc_ids, title_terms)}
    subjects = dict(zip(doc_ids, subject_terms))
    in_question = {doc_id: names_subject(d.title, question) for doc_id, d in documents.items()}

    rows = []
    for a, b in pairs:
        a_names_b = names_subject(documents[b].title, documents[a].text)
        b_names_a = names_subject(documents[a].title, documents[b].text)
        share = [len(asked & held[d]) / max(1, len(asked)) for d in (a, b)]
        together = len(asked & (held[a] | held[b])) / max(1, len(asked))
        rows.append((
            1.0, 0.0, 0.0, float(in_question[a] != in_question[b]),
            float(in_question[a] != in_question[b] and (a_names_b if in_question[a] else b_names_a)),
            float(a_names_b) + float(b_names_a), together, together - max(share),
            sum(len(subjects[d] & asked) / max(1, len(subjects[d])) for d in (a, b)), cosine[a] + cosine[b],
            max(len(subjects[y] & body[x]) / max(1, len(subjects[y])) for x, y in ((a, b), (b, a))),
        ))
    return pairs, np.asarray(rows, dtype=float)


def sentence_chances(doc_ids: list[str], rows: np.ndarray,
                     weights: np.ndarray) -> tuple[np.ndarray, dict[str, list[int]], dict[str, float]]:
    """The sentence model's chance for each candidate (of document `doc_ids[i]`), the candidates
    of each document, and each document's best chance."""
    chance = 1 / (1 + np.exp(-rows @ weights))
    by_doc: dict[str, list[int]] = {}
    for i, doc_id in enumerate(doc_ids):
        by_doc.setdefault(doc_id, []).append(i)
    return chance, by_doc, {doc_id: float(chance[members].max()) for doc_id, members in by_doc.items()}


def pair_rows_with(pairs: list[tuple[str, str]], rows: np.ndarray, best: dict[str, float]) -> np.ndarray:
    """citer_pairs' rows with the documents' best sentence chances filled in."""
    rows = np.array(rows, dtype=float)
    rows[:, 1] = [best[a] + best[b] for a, b in pairs]
    rows[:, 2] = [min(best[a], best[b]) for a, b in pairs]
    return rows


def pair_scores(pairs: list[tuple[str, str]], rows: np.ndarray, best: dict[str, float],
                weights: np.ndarray) -> np.ndarray:
    return pair_rows_with(pairs, rows, best) @ weights


def picked_of(members: list[int], chance: np.ndarray, threshold: float, relative: float) -> list[int]:
    """The candidates of one document to cite: those whose chance reaches `threshold` and
    `relative` times the document's best chance, or else its best one alone. The relative floor
    keeps a document whose best sentence is near-certain from bringing in merely likely ones
    (HotpotQA gold holds one sentence of most documents): cross-fitted citation F1 +0.006."""
    ranked = sorted(members, key=lambda i: chance[i], reverse=True)
    floor = max(threshold, relative * chance[ranked[0]])
    return [i for i in ranked if chance[i] >= floor] or ranked[:1]


def cited_candidates(pairs: list[tuple[str, str]], pair_rows: np.ndarray, chance: np.ndarray,
                     by_doc: dict[str, list[int]], best: dict[str, float], pair_weights: np.ndarray,
                     threshold: float, relative: float, fact: int | None = None) -> list[tuple[str, list[int]]] | None:
    """The citer's choice, shared by Citer.choose and eval/train_citer.py: the chosen pair's
    documents (likeliest first), each with the candidates it cites, or None when the likeliest
    document is in no linked pair. Candidate `fact` is cited too where its document is chosen."""
    if not any(max(best, key=best.get) in pair for pair in pairs):
        # The likeliest document stands alone: a single-subject answer (costs 0.01 of HotpotQA
        # citation F1, and keeps an unrelated linked pair from answering a one-fact question).
        return None
    pair = pairs[int(np.argmax(pair_scores(pairs, pair_rows, best, pair_weights)))]
    cited = []
    for doc_id in sorted(pair, key=best.get, reverse=True):
        picked = picked_of(by_doc[doc_id], chance, threshold, relative)
        if fact in by_doc[doc_id] and fact not in picked:
            picked.append(fact)
        cited.append((doc_id, picked))
    return cited


@dataclass(frozen=True)
class Citer:
    """Which two title-linked documents to cite and which of their sentences: two logistic
    regressions fitted on HotpotQA by eval/train_citer.py (plain JSON, no pickle), one over
    CITER_FEATURES for each sentence, one over PAIR_FEATURES for each linked pair of documents.

    The rules (multihop.second_fact) pick the second document right only ~60% of the time on
    HotpotQA; a learned pair score, then each chosen document's sentences above thresholds tuned
    for citation F1, do better (see eval/benchmarks.md). It only answers when the likeliest document is linked by a
    title to another retrieved one (the question names one's, or one document names the other's),
    so single-subject corpora keep the rule-based answer and its corroboration.
    """

    weights: np.ndarray
    pair_weights: np.ndarray
    threshold: float
    relative: float
    per_document: int

    @classmethod
    def load(cls, path: Path) -> Citer:
        """The citer fitted into `path`; a missing, damaged or stale file is refused with what to do
        (the `citer` setting can name another file, or be empty to answer without it)."""
        try:
            fitted = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"The citer {path} is missing or unreadable ({exc}): reinstall groundqa, or run "
                            "eval/train_citer.py again, or set `citer` empty to answer without it.") from exc
        try:
            if (tuple(fitted["features"]) != CITER_FEATURES
                    or tuple(fitted.get("pair_features", ())) != PAIR_FEATURES or "relative" not in fitted):
                raise ValueError("fitted on other features or choices")
            return cls(np.asarray(fitted["weights"], dtype=float), np.asarray(fitted["pair_weights"], dtype=float),
                       float(fitted["threshold"]), float(fitted["relative"]), int(fitted["per_document"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"The citer {path} does not fit this version ({exc}): run eval/train_citer.py again, "
                            "or set `citer` empty to answer without it.") from exc

    def choose(self, question: str, evidence: list[Evidence], index: Index,
               fact: Sentence | None = None) -> list[tuple[Sentence, float]] | None:
        """The cited sentences with their scores, best document first, or None when the likeliest
        document is linked to no other retrieved one. `fact` (second_fact's pick, which holds what
        the best sentence lacks: often the answer itself) is cited too when it lies in one of them."""
        pairs, pair_rows = citer_pairs(question, evidence, index)
        if not pairs:
            return None  # most questions on a single-subject corpus stop here
        sentences, rows = citer_candidates(question, evidence, index, self.per_document)
        chance, by_doc, best = sentence_chances([s.doc_id for s in sentences], rows, self.weights)
        fact_row = next((i for i, s in enumerate(sentences) if fact is not None and s.id == fact.id), None)
        cited = cited_candidates(pairs, pair_rows, chance, by_doc, best, self.pair_weights,
                                 self.threshold, self.relative, fact_row)
        if cited is None:
            return None
        support = {item.hit.sentence.id: item.support for item in evidence}
        chosen = []
        for doc_id, picked in cited:
            top = max(support.get(sentences[i].id, 0.0) for i in by_doc[doc_id])
            # A sentence retrieval left out is cited on the strength of its document's best one.
            chosen += [(sentences[i], support.get(sentences[i].id, top))
                       for i in sorted(picked, key=lambda i: sentences[i].index)]
        return chosen
