"""Rules for questions that need more than one sentence: a second fact from a document linked to
the first by a title, the sentence introducing a subject that a later one leans on ("He was born
in …"), and the sentence that continues one ("These would include …").

Documents are linked when one names the other's subject (its title, without a disambiguation such
as "(film)") or the question names the second one's; names_subject is that test.
"""

from __future__ import annotations

import re

from qa.settings import Settings
from qa.store import Index
from qa.support import Evidence, terms_of
from qa.types import Sentence

# A sentence opening like this continues the one before it ("…could supply strategic
# capabilities. These would include ISR systems…"): the answer takes both.
_CONTINUES = re.compile(r"^[“\"]?(these|this|those|they|it|such)\b", re.IGNORECASE)

_DISAMBIGUATION = re.compile(r"\s*\([^)]*\)\s*$")


def second_fact(question: str, head: Evidence, evidence: list[Evidence], index: Index,
                settings: Settings) -> tuple[Evidence, float] | None:
    """The sentence of another document that states what the best one leaves out of the question,
    and the share of the question's weighted terms the two hold together.

    A multi-hop question ("Which county is the town where X was born in?") needs two facts joined
    by a bridge entity: the first fact names the second's subject, or the second names the
    first's, or the question names the second's (as a comparison names both). Only such linked
    sentences qualify (on the sample corpus, unlinked sentences that merely held a missing word
    were all wrong citations); among them, the one covering most of the best sentence's shortfall
    wins, its own support weighing in.
    """
    head_sentence = head.hit.sentence
    head_title = index.documents[head_sentence.doc_id].document.title
    chosen, best, together = None, -1.0, 0.0
    for item in evidence:
        sentence = item.hit.sentence
        if sentence.doc_id == head_sentence.doc_id:
            continue
        title = index.documents[sentence.doc_id].document.title
        if title == head_title:
            continue  # another passage on the same subject: no bridge to a second one
        if not (names_subject(title, head_sentence.text) or names_subject(title, question)
                or names_subject(head_title, sentence.text)):
            continue
        gain = sum(head.missing.get(term, 0.0) for term in item.terms)
        value = gain + settings.second_fact_support * item.support
        if value > best:
            chosen, best, together = item, value, head.overlap + gain
    return (chosen, together) if chosen is not None else None


def held_together(evidence: list[Evidence], cited: list[Sentence], index: Index) -> float:
    """The share of the question's weighted terms the cited sentences (with their titles) hold
    together. A term's share is known from any retrieved sentence lacking it; one that every
    retrieved sentence holds counts as held."""
    shares: dict[str, float] = {}
    for item in evidence:
        shares.update(item.missing)
    retrieved = {item.hit.sentence.id: item.terms for item in evidence}
    others = [f"{index.documents[s.doc_id].document.title} {s.text}" for s in cited if s.id not in retrieved]
    held = set().union(*(retrieved[s.id] for s in cited if s.id in retrieved), *(terms_of(others) if others else []))
    return 1.0 - sum(share for term, share in shares.items() if term not in held)


def bare_title(title: str) -> str:
    """A title without its trailing disambiguation: "Rome (film)" -> "Rome"."""
    return _DISAMBIGUATION.sub("", title)


def names_subject(title: str, text: str) -> bool:
    """Whether `text` names the subject of a document titled `title` ("Rome (film)": "Rome")."""
    subject = bare_title(title).strip()
    return len(subject) > 2 and re.search(rf"\b{re.escape(subject)}\b", text, re.IGNORECASE) is not None


def linked(question: str, index: Index, first: str, second: str) -> bool:
    """Whether two documents are about different subjects that a multi-hop question joins: the
    question names one's title (a comparison names both), or one document names the other's."""
    a, b = index.documents[first].document, index.documents[second].document
    if a.title == b.title:
        return False
    return (names_subject(b.title, question) or names_subject(a.title, question)
            or names_subject(b.title, a.text) or names_subject(a.title, b.text))


def subject_of(index: Index, sentence: Sentence) -> Sentence | None:
    """The document's first sentence when this later one relies on it for who or what it is
    about: the first sentence introduces the document's subject (names its title, as an
    encyclopedia entry's does) and this one does not name it ("He was born in Ohio.")."""
    if sentence.index == 0:
        return None
    title = index.documents[sentence.doc_id].document.title
    first = index.document_sentences(sentence.doc_id)[0]
    if first.text.strip() == title.strip() or names_subject(title, sentence.text) or not names_subject(title, first.text):
        return None  # a headline is no introduction, and a sentence naming its subject needs none
    return first


def continuation(index: Index, sentence: Sentence) -> Sentence | None:
    """The next sentence of the same document when it continues this one ("These would …")."""
    siblings = index.document_sentences(sentence.doc_id)
    if sentence.index + 1 < len(siblings) and _CONTINUES.match(siblings[sentence.index + 1].text):
        return siblings[sentence.index + 1]
    return None
