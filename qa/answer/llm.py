"""Optional LLM answerers, chosen explicitly: an OpenAI-compatible endpoint or a local GGUF model.

The model sees numbered retrieved sentences and must cite them as [S3]. Every answer sentence is
then checked: ids the model invented are dropped, a sentence with no valid citation or whose
citations do not state it (the claim check, qa/answer/grounding.py) is removed, and when nothing
supported survives the extractive answer is returned instead. The model never decides alone what
the documents say; the answer record lists every sentence with the check's verdict.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Protocol

from qa.answer.claims import claims_from
from qa.answer.draft import Draft, with_markers
from qa.answer.extractive import Extractive
from qa.answer.grounding import ClaimCheck
from qa.errors import UserError
from qa.sanitize import clean
from qa.settings import Settings
from qa.store import Index, TermWeights
from qa.support import Evidence
from qa.types import Citation, Claim

# Package data, so an installed wheel has it too; the checkout's top-level prompts/ links here.
PROMPT_FILE = Path(str(resources.files("qa") / "prompts" / "answer.txt"))
NOT_FOUND = "NOT IN DOCUMENTS"
_MARKER = re.compile(r"\[S(\d+)\]")
# Sentences that speak to the model rather than about the world ("ignore previous instructions…",
# "SYSTEM: …", "new rules: …", or our own [S3] citation format) are a document trying to steer
# the answer (indirect prompt injection): the model never sees them, so it can neither obey nor
# cite them.
_ADDRESSES_MODEL = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.]{0,40}?\b(?:instructions?|rules|prompts?|above)\b"
    r"|(?:^|[\s\"'(\[<])(?:system|assistant|developer)(?:\s+prompt)?\s*:"
    r"|\byou are now\b|\bnew (?:rules|instructions)\b|\[S\d+\]",
    re.IGNORECASE,
)


class Backend(Protocol):
    name: str

    def complete(self, prompt: str) -> str: ...


class OpenAICompatible:
    """Any server speaking the OpenAI chat API: Ollama, vLLM, llama.cpp server, a hosted API."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_base_url or not settings.llm_model:
            raise UserError("The openai answerer needs QA_LLM_BASE_URL and QA_LLM_MODEL (e.g. http://127.0.0.1:11434/v1 and llama3.2).")
        try:
            from llama_index.llms.openai_like import OpenAILike
        except ImportError:
            raise UserError("The openai answerer needs the llm extra: pip install 'groundqa[llm]'") from None
        self._llm = OpenAILike(
            model=settings.llm_model,
            api_base=settings.llm_base_url,
            api_key=settings.llm_api_key or "not-needed",
            is_chat_model=True,
            temperature=0.0,
            max_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout_s,
            max_retries=1,
        )

    def complete(self, prompt: str) -> str:
        from llama_index.core.llms import ChatMessage

        return self._llm.chat([ChatMessage(role="user", content=prompt)]).message.content or ""


class LLMAnswerer:
    def __init__(self, backend: Backend, settings: Settings, encoder, prompt_file: Path = PROMPT_FILE) -> None:
        from llama_index.core import PromptTemplate

        self.name = backend.name
        self.backend = backend
        self.settings = settings
        self.check = ClaimCheck(encoder)
        self.fallback = Extractive(settings)
        self.template = PromptTemplate(prompt_file.read_text(encoding="utf-8"))
        if set(self.template.template_vars) != {"context", "question"}:
            raise UserError(f"{prompt_file} must use exactly the placeholders {{context}} and {{question}}")
        self._weights: tuple[str, TermWeights] | None = None

    def answer(self, question: str, evidence: list[Evidence], index: Index) -> Draft:
        withheld = [e for e in evidence if _ADDRESSES_MODEL.search(e.hit.sentence.text)]
        evidence = [e for e in evidence if e not in withheld]
        notes = [f"withheld {len(withheld)} retrieved sentences that address the model: "
                 + "; ".join(repr(e.hit.sentence.text[:80]) for e in withheld)] if withheld else []
        if not claims_from(evidence, self.settings):
            # Nothing retrieved supports an answer: say so without asking the model to guess.
            draft = self.fallback.answer(question, evidence, index)
            draft.notes = notes + draft.notes
            return draft
        shown = sorted(evidence, key=lambda e: e.hit.score, reverse=True)[: self.settings.top_k]
        context = "\n".join(f"[S{i}] {_quoted(e.hit.sentence.text)}" for i, e in enumerate(shown, start=1))
        prompt = self.template.format(context=context, question=question)
        raw = self.backend.complete(prompt)
        draft = self._verify(raw, shown, index)
        draft.prompt, draft.notes = prompt, notes + draft.notes
        if draft.abstained or not draft.citations:
            fallback = self.fallback.answer(question, evidence, index)
            fallback.prompt, fallback.notes = prompt, draft.notes + ["no supported claim survived: extractive answer shown"]
            fallback.claims = draft.claims
            return fallback
        return draft

    def _verify(self, raw: str, shown: list[Evidence], index: Index) -> Draft:
        notes: list[str] = []
        known = " ".join(index.documents[e.hit.sentence.doc_id].document.text for e in shown)
        text = clean(raw, known)
        if NOT_FOUND in text.upper():
            return Draft(text, abstained=True, notes=["the model found no answer"])
        from qa.sentences import segmenter

        citations: list[Citation] = []
        claims: list[Claim] = []
        number_of: dict[int, int] = {}
        parts = []
        weights = self._term_weights(index)
        for piece in segmenter().segment(text):
            piece = piece.strip()
            ids = [int(i) for i in _MARKER.findall(piece)]
            statement = re.sub(r"\s+([.!?,;:])", r"\1", _MARKER.sub("", piece)).strip()
            if not statement:
                continue
            valid = [i for i in dict.fromkeys(ids) if 1 <= i <= len(shown)]
            invented = sorted(set(ids) - set(valid))
            if invented:
                notes.append(f"dropped invented citation ids {invented}")
            if not valid:
                notes.append(f"removed a claim with no valid citation: {statement!r}")
                claims.append(Claim(statement, (), supported=False, score=None))
                continue
            cited = [shown[i - 1] for i in valid]
            verdict = self.check.judge(statement, cited, weights)
            claims.append(Claim(statement, tuple(e.hit.sentence.id for e in cited), verdict.supported, verdict.score))
            if not verdict.supported:
                notes.append(f"removed an unsupported claim (claim check {verdict.score:.2f}): {statement!r}")
                continue
            markers = ""
            for i in valid:
                if i not in number_of:
                    citations.append(Citation.of(shown[i - 1].hit.sentence, shown[i - 1].support, claim=len(parts) + 1))
                    number_of[i] = len(citations)
                markers += f"[{number_of[i]}]"
            parts.append(with_markers(statement, markers))
        return Draft(" ".join(parts), abstained=False, citations=citations, notes=notes, claims=claims)

    def _term_weights(self, index: Index) -> TermWeights:
        key = index.manifest.get("generation", "")
        if self._weights is None or self._weights[0] != key:
            self._weights = (key, index.term_weights())
        return self._weights[1]


def _quoted(text: str) -> str:
    """A sentence as one prompt line: its line breaks cannot open a new section of the prompt."""
    return " ".join(text.split())


def make_answerer(name: str, settings: Settings, encoder) -> LLMAnswerer:
    if name == "openai":
        return LLMAnswerer(OpenAICompatible(settings), settings, encoder)
    if name == "gguf":
        from qa.gguf import LocalGGUF

        return LLMAnswerer(LocalGGUF(settings), settings, encoder)
    raise UserError(f"Unknown answerer {name!r}: choose extractive, openai or gguf.")
