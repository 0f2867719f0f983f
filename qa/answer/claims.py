"""Evidence -> claims: which sentences state an answer, and which corroborate them.

A claim is stated by a sentence whose support is close to the best; a near-identical sentence
from another document is cited on the same claim as corroboration. The LLM answerer uses the same
test to decide whether the evidence is worth asking a model about.
"""

from __future__ import annotations

from qa.settings import Settings
from qa.support import Evidence


def claims_from(evidence: list[Evidence], settings: Settings) -> list[list[Evidence]]:
    """Group the answer-worthy sentences into claims; a claim's first sentence states it.

    A claim is stated by a sentence whose support is close to the best. Sentences from other
    documents that say nearly the same (cosine >= same_claim_cosine) join it as corroboration
    even when their own wording supports the question less well.
    """
    if not evidence or evidence[0].support < settings.abstain_below:
        return []
    floor = max(settings.abstain_below, evidence[0].support - settings.answer_margin)
    claims: list[list[Evidence]] = []
    for item in evidence:
        claim = _corroborated(claims, item, settings)
        if claim is not None:
            claim.append(item)
        elif item.support >= floor and len(claims) < settings.max_claims:
            claims.append([item])
    return claims


def _corroborated(claims: list[list[Evidence]], item: Evidence, settings: Settings) -> list[Evidence] | None:
    for claim in claims:
        head = claim[0]
        if item.fit < head.fit:
            continue  # it lacks the kind of answer the head has (a date, a number)
        if float(item.vector @ head.vector) >= settings.same_claim_cosine and all(
            e.hit.sentence.doc_id != item.hit.sentence.doc_id for e in claim
        ):
            return claim
    return None
