"""Whether a claim is stated by the sentences it cites: the check every LLM answer sentence passes
before it is shown.

Three readings of a claim against its cited sentences are combined: the IDF-weighted share of
the claim's words the cited sentences contain, the cosine between the claim and its closest cited
sentence (meaning, whatever the wording), and the share of the claim's names and numbers the cited
sentences mention: a model's most common slip is a sentence copied with another name, number or
date in it, which the first two barely notice. The combination and its threshold are fitted by
eval/calibrate_claims.py on held-out dev claims (qa/models/claims.json records the fit and its
figures). The reader was measured there as a fourth reading and left out: it scores a claim
about the right subject highly whatever fact it states, so with it more swapped facts passed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from qa.errors import UserError
from qa.reader import combined
from qa.support import Evidence, TermWeights, coverage, mentions, names, terms_of

FEATURES = ("coverage", "cosine", "specifics")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")


def calibration_file() -> Path:
    return Path(str(resources.files("qa") / "models" / "claims.json"))


@dataclass(frozen=True)
class Grounding:
    """The check's verdict on one claim: `score` the fitted combination (0..1), `supported`
    whether it reached the fitted threshold."""

    supported: bool
    score: float


class ClaimCheck:
    """Judges claims against the evidence they cite, by the fit in claims.json."""

    def __init__(self, encoder, calibration: Path | None = None) -> None:
        self.encoder = encoder
        path = calibration or calibration_file()
        try:
            self.fit = json.loads(path.read_text())["fit"]
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"The claim check's calibration {path} is missing or unreadable ({exc}); "
                            "reinstall groundqa or run eval/calibrate_claims.py.") from exc
        if tuple(self.fit["features"]) != FEATURES:
            raise UserError(f"{path} was fitted on {self.fit['features']}, this version reads {list(FEATURES)}: "
                            "run eval/calibrate_claims.py again.")

    def judge(self, claim: str, cited: list[Evidence], weights: TermWeights) -> Grounding:
        score = float(combined(readings(claim, cited, weights, self.encoder)[None, :], self.fit)[0])
        return Grounding(score >= self.fit["threshold"], score)


def readings(claim: str, cited: list[Evidence], weights: TermWeights, encoder) -> np.ndarray:
    """FEATURES of `claim` against the evidence it cites."""
    vector = encoder.encode([claim])[0]
    cosine = max(float(e.vector @ vector) for e in cited)
    claim_terms, *cited_terms = terms_of([claim] + [e.hit.sentence.text for e in cited])
    covered = coverage({t: 1.0 for t in claim_terms}, set().union(*cited_terms), weights)
    cited_text = " ".join(e.hit.sentence.text for e in cited)
    wanted = names(claim) | set(_NUMBER.findall(claim))
    specifics = sum(mentions(w, cited_text) for w in wanted) / len(wanted) if wanted else 1.0
    return np.array([covered, cosine, specifics])
