"""How well a retrieved sentence supports a question.

Two readings of each sentence are combined. Resemblance is cheap and honest about what it
measures: the cosine between the question and the sentence (meaning) and the IDF-weighted share
of the question's content words the sentence contains (the specifics: names, numbers, the verb),
times a penalty when the sentence cannot hold the kind of answer asked for. It fails in known
ways: cosine rates a sentence on the right subject but with another fact highly, word overlap
misses a paraphrase. The reader (qa/reader.py), a cross-encoder trained here, reads the question
and the sentence together. Support is their combination by weights that eval/calibrate_reader.py
fits on held-out dev questions, one scale for every threshold of the answerer: fitted per sentence
for "this sentence states (part of) the answer", then mapped so that a question's best support
reads as the chance that the documents answer it.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict

import numpy as np

from qa.reader import Reader, passage
from qa.store import Index, TermWeights, stemmer

# Words that shape a question but say nothing about its answer. BM25's own list (33 words) is
# kept short on purpose; judging support needs the interrogatives and auxiliaries gone too.
# "us" stays: in news it is mostly the US.
QUESTION_STOPWORDS = sorted(
    set(
        """a an and are as at be but by for if in into is it no not of on or such that the their then
        there these they this to was will with what which who whom whose when where why how did do
        does done doing much many were been being has have had can could would should shall may
        might must i me my we our you your he she him her his its them those from than so too very
        just any some all each other also here up about according tell kind sort whether""".split()
    )
)


class SentenceVectors:
    """Each sentence's own embedding (without its title), kept once computed.

    Stored vectors carry the document's title, which is right for retrieval but wrong for judging
    support: on the sample corpus, cosines against them cost 0.18 citation precision (a long
    headline dominates a short sentence). Encoding the hits again cost ~90 ms an ask on two cores,
    nearly all of the support stage; the same sentences come back ask after ask, so they are
    encoded once. Keys are (model, sentence id): ids derive from content, so an entry stays right
    across index generations. Bounded (LRU) so a large corpus cannot grow it without limit.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, sentences, encoder) -> np.ndarray:
        keys = [(encoder.name, s.id) for s in sentences]
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
            for key in found:
                self._cache.move_to_end(key)
        missing = [s for s, k in zip(sentences, keys) if k not in found]
        if missing:
            fresh = encoder.encode([s.text for s in missing])
            with self._lock:
                for sentence, vector in zip(missing, fresh):
                    key = (encoder.name, sentence.id)
                    found[key] = self._cache[key] = vector
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        return np.stack([found[k] for k in keys])

    def clear(self) -> None:
        """Forget every vector (eval/own_vectors.py measures a question never seen before)."""
        with self._lock:
            self._cache.clear()


_OWN_VECTORS = SentenceVectors()


def terms(text: str) -> set[str]:
    return terms_of([text])[0]


def terms_of(texts: list[str]) -> list[set[str]]:
    """Stemmed content terms of each text; one tokenizer call for all (each call has a fixed cost)."""
    import bm25s

    tokens = bm25s.tokenize(texts, stopwords=QUESTION_STOPWORDS, stemmer=stemmer(), return_ids=False, show_progress=False)
    return [set(t) for t in tokens]


def coverage(claim_terms: dict[str, float], evidence_terms: set[str], weights: TermWeights) -> float:
    """IDF-weighted share of the claim's terms found in the evidence (claim terms carry a weight)."""
    total = sum(weights.weight(t) * w for t, w in claim_terms.items())
    if not total:
        return 0.0
    return sum(weights.weight(t) * w for t, w in claim_terms.items() if t in evidence_terms) / total


def shortfall(claim_terms: dict[str, float], evidence_terms: set[str], weights: TermWeights) -> dict[str, float]:
    """The claim's terms missing from the evidence, each with its share of the claim's weight."""
    total = sum(weights.weight(t) * w for t, w in claim_terms.items()) or 1.0
    return {t: weights.weight(t) * w / total for t, w in claim_terms.items() if t not in evidence_terms}


def blend(cosine: float, overlap: float, dense_weight: float) -> float:
    return dense_weight * max(0.0, cosine) + (1 - dense_weight) * overlap


class Evidence:
    """A retrieved sentence with its own vector and how well it supports the question.

    `resemblance` is the support before the reader (fit times the blend of cosine and overlap);
    `reader` the reader's logit (None when no reader read it); `support` what the answerer acts
    on. `terms` are the sentence's stemmed terms (with its document's title); `missing` maps each
    question term it lacks to that term's share of the question's weight, so an answerer can
    tell what another sentence would have to add (a multi-hop question's second fact).
    """

    __slots__ = ("hit", "vector", "cosine", "overlap", "support", "fit", "terms", "missing", "resemblance", "reader")

    def __init__(self, hit, vector: np.ndarray, cosine: float, overlap: float, support: float, fit: float = 1.0,
                 terms: frozenset[str] = frozenset(), missing: dict[str, float] | None = None,
                 resemblance: float | None = None, reader: float | None = None) -> None:
        self.hit = hit
        self.vector = vector
        self.cosine = cosine
        self.overlap = overlap
        self.support = support
        self.fit = fit
        self.terms = terms
        self.missing = missing or {}
        self.resemblance = support if resemblance is None else resemblance
        self.reader = reader

    def rescored(self, support: float) -> Evidence:
        return Evidence(self.hit, self.vector, self.cosine, self.overlap, support, self.fit, self.terms, self.missing,
                        self.resemblance, self.reader)


# What a question asks for, by its opening: a sentence that cannot contain that kind of answer
# (no date for "when", no number for "how many") does not answer it, however similar it reads.
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_NUMBER = (r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
           r"fifty|hundreds?|thousands?|millions?|billions?|dozens?|several|half|single|both)\b")
_TIME = (rf"\b({_MONTHS}|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|"
         r"thursday|friday|saturday|sunday|today|yesterday|tomorrow|week|month|year|years|decade|century|"
         r"spring|summer|autumn|winter|morning|evening|night|soon|later|earlier|ago|recently|centur(y|ies)|"
         r"era|period|\d{1,2}(st|nd|rd|th)|1\d{3}|20\d{2})\b")
_EXPECTS = [
    (re.compile(r"^\s*((on|in|at|by|from|since|until) )?(when|what (year|date|day|month|time)|which (year|date|day|month)|how long ago)\b", re.I),
     re.compile(_TIME, re.I)),
    (re.compile(r"^\s*(how (many|much|old|long|far|big|large|tall|high|often)|what (percentage|number|amount))\b", re.I),
     re.compile(_NUMBER, re.I)),
]
_NAME = re.compile(r"\b(?:[A-Z][a-z]+(?:['’]s)?|[A-Z]{2,}|(?:[A-Z]\.){2,})")


def expected_kind(question: str) -> re.Pattern | None:
    """The pattern an answering sentence must contain, or None when any sentence may answer."""
    for asks, kind in _EXPECTS:
        if asks.search(question):
            return kind
    return None


def names(question: str) -> set[str]:
    """Proper names and acronyms in the question (not its first word, which is capitalised anyway)."""
    words = question.split()
    rest = " ".join(words[1:])
    found = set()
    for match in _NAME.finditer(rest):
        name = re.sub(r"['’]s$", "", match.group()).replace(".", "")
        if name.lower() not in QUESTION_STOPWORDS:
            found.add(name)
    return found


def mentions(name: str, text: str) -> bool:
    """Whether `text` names `name`, counting an acronym's spelled-out form (US: United States)."""
    if re.search(rf"\b{re.escape(name)}\b", text.replace(".", "")):
        return True
    if name.isupper() and len(name) <= 5:
        spelled = r"\s+(?:of\s+|the\s+|and\s+)?".join(rf"{letter}\w+" for letter in name)
        return re.search(rf"\b{spelled}\b", text) is not None
    return False


def fits(kind: re.Pattern | None, names_found: bool, sentence: str) -> float:
    """1.0 when the sentence can hold the kind of answer asked for and its document names what
    the question names (`names_found`); less for each shortfall. Names are checked in the whole
    document, not the sentence, because a sentence says "Washington" or "he" where the question
    says "US"."""
    factor = 1.0
    if kind is not None and not kind.search(sentence):
        factor *= 0.5
    if not names_found:
        factor *= 0.6
    return factor


def question_terms(question: str, history: list[str]) -> dict[str, float]:
    """The question's terms, plus the previous turn's at half weight: a follow-up's context. Given
    after any previous turn, not only where retrieve.resolve() sees a follow-up: "How much is Oslo
    putting in?" follows one up with neither a pronoun nor four words or fewer."""
    weighted = {t: 0.5 for t in (terms(history[-1]) if history else ())}
    weighted.update({t: 1.0 for t in terms(question)})
    return weighted


# What support is fitted on, per retrieved sentence (eval/calibrate_reader.py).
FEATURES = ("reader", "resemblance")


def score(question: str, query_vector: np.ndarray, history: list[str], hits, index: Index,
          encoder, weights: TermWeights, dense_weight: float, *, reader: Reader | None,
          query: str, timings: dict[str, float] | None) -> list[Evidence]:
    """Support of each hit's sentence for the question, best first. The reader reads `query`
    (the question as retrieval saw it: a follow-up with the turn it follows); the milliseconds
    it took go into `timings["reader"]` when given."""
    if not hits:
        return []
    stored = [index.documents[h.sentence.doc_id] for h in hits]
    if index.embeds_sentences_alone:
        vectors = index.vectors_of([h.sentence for h in hits])
    else:  # stored vectors carry a title or neighbours: the sentence's own meaning is needed
        vectors = _OWN_VECTORS.of([h.sentence for h in hits], encoder)
    evidence_terms = terms_of([f"{d.document.title} {h.sentence.text}" for d, h in zip(stored, hits)])
    wanted = question_terms(question, history)
    kind, wanted_names = expected_kind(question), names(question)
    named: dict[str, bool] = {}  # per document: a whole-document search is the costly part
    out = []
    for hit, document, vector, found in zip(hits, stored, vectors, evidence_terms):
        doc_id = hit.sentence.doc_id
        if doc_id not in named:
            text = f"{document.document.title}\n{document.document.text}"
            named[doc_id] = all(mentions(name, text) for name in wanted_names)
        missing = shortfall(wanted, found, weights)
        overlap = coverage(wanted, found, weights)
        cosine = float(vector @ query_vector)
        fit = fits(kind, named[doc_id], hit.sentence.text)
        support = fit * blend(cosine, overlap, dense_weight)
        out.append(Evidence(hit, vector, cosine, overlap, support, fit, frozenset(found), missing))
    if reader is not None:
        started = time.perf_counter()
        out = read(query, out, index, reader)
        if timings is not None:
            timings["reader"] = (time.perf_counter() - started) * 1000
    # A stable sort: ties (one sentence in two documents) keep retrieval's order.
    return sorted(out, key=lambda e: e.support, reverse=True)


def read(query: str, evidence: list[Evidence], index: Index, reader: Reader) -> list[Evidence]:
    """The evidence with the reader's logit and the support it and resemblance give together."""
    passages = [passage(index.documents[e.hit.sentence.doc_id].document.title, e.hit.sentence.text)
                for e in evidence]
    for item, logit in zip(evidence, reader.logits(query, passages)):
        item.reader = float(logit)
    return [item.rescored(float(chance)) for item, chance in zip(evidence, reader.support(features_of(evidence), FEATURES))]


def features_of(evidence: list[Evidence]) -> np.ndarray:
    """FEATURES of each read sentence, one row each, in FEATURES' order (each is an Evidence field)."""
    return np.array([[getattr(e, name) for name in FEATURES] for e in evidence], dtype=float)
