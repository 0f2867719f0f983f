"""HTML for the web chat: every piece of document or model text is escaped before it is shown.

Gradio renders chat messages as markdown and then sanitizes HTML, but markdown itself is active
content ("[x](http://…)" becomes a link, "![x](…)" an image that loads), so text is escaped for
both: HTML entities for <, >, & and quotes, and numeric entities for markdown punctuation.
"""

from __future__ import annotations

from qa.types import Answer, ShortAnswer, locator_text

# One pass, so no entity is escaped twice: HTML's specials and markdown's punctuation alike.
_INERT = {c: f"&#{ord(c)};" for c in "&<>\"'[]()*_`!#~|\\{}+-=:"}


def text(value: str) -> str:
    """`value` as inert text inside markdown-rendered HTML."""
    return "".join(_INERT.get(ch, ch) for ch in value)


def answer_html(answer: Answer) -> str:
    body = text(answer.answer)
    for number in range(len(answer.citations), 0, -1):  # [12] before [1]
        escaped = f"&#91;{number}&#93;"
        body = body.replace(escaped, f'<sup class="cite">&#91;{number}&#93;</sup>')
    if answer.abstained:
        return f'<div class="abstained">{body}</div>'
    if answer.short_answer is not None:
        short = answer.short_answer
        return (f'<div class="short-answer"><b>{text(short.text)}</b> '
                f'<sup class="cite">&#91;{short.citation}&#93;</sup></div>{body}')
    return body


def with_answer_words(sentence: str, number: int, short: ShortAnswer | None) -> str:
    """The quoted sentence, escaped, with the short answer's words set apart when they are in it."""
    if short is None or short.citation != number or sentence[short.start : short.end] != short.text:
        return text(sentence)
    return (f'{text(sentence[: short.start])}<strong class="answer-words">{text(short.text)}</strong>'
            f"{text(sentence[short.end :])}")


def sources_html(answer: Answer, context_of) -> str:
    """The cited sentences highlighted in their paragraphs, grouped by the claim they support.

    `context_of(citation)` returns (before, sentence, after) text around the cited sentence.
    """
    if not answer.citations:
        return '<div class="sources empty">No sources: the documents do not answer this.</div>'
    parts = ['<div class="sources">']
    for cited in answer.by_claim():
        documents = {c.doc_id for _, c in cited}
        # Sentences that state one claim sit in one frame, so "reported by 2 sources" visibly
        # covers exactly them and not the source below.
        parts.append('<div class="claim">')
        if len(documents) > 1:
            markers = ", ".join(f"&#91;{number}&#93;" for number, _ in cited)
            parts.append(f'<div class="corroborated">{markers} say the same: reported by {len(documents)} sources</div>')
        for number, c in cited:
            where = f"{text(c.doc_id)} · sentence {c.sentence_index + 1}"
            if c.locator:
                where += f" · {text(locator_text(c.locator))}"
            elif c.page:
                where += f" · page {c.page}"
            before, sentence, after = context_of(c)
            parts.append(
                f'<div class="source" id="source-{number}"><div class="where"><b>&#91;{number}&#93;</b> {where}</div>'
                f'<div class="context">{text(before)} <mark>{with_answer_words(sentence, number, answer.short_answer)}</mark> '
                f'{text(after)}</div></div>'
            )
        parts.append("</div>")
    parts.append("</div>")
    return "\n".join(parts)


CSS = """
.abstained { color: #555; font-style: italic; border-left: 4px solid #bbb; padding-left: 8px; }
sup.cite { color: #1a5fb4; font-weight: bold; }
.sources .source { margin: 0 0 12px 0; padding: 8px; border: 1px solid #ddd; border-radius: 6px; }
.sources .where { font-size: 0.9em; color: #333; margin-bottom: 4px; }
.sources mark { background: #fff3a3; padding: 0 2px; }
.sources mark .answer-words { background: #ffd43b; }
.short-answer { font-size: 1.1em; margin-bottom: 6px; }
.sources .claim:has(.corroborated) { border-left: 4px solid #26a269; padding-left: 8px; margin-bottom: 12px; }
.sources .corroborated { font-size: 0.85em; color: #26a269; font-weight: bold; margin: 0 0 6px; }
.sources .context { line-height: 1.45; }
"""


class Conversations:
    """Each browser session's answers by their position in the chat, for rating and export.

    Held in memory: a rating or export needs the answer record (citations, retrieved sentences)
    that the chat's rendered HTML no longer carries. The longest idle sessions are forgotten first.
    """

    def __init__(self, sessions: int = 1_000, answers_each: int = 200) -> None:
        import threading
        from collections import OrderedDict

        self._sessions: OrderedDict[str, dict[int, tuple[list[str], Answer]]] = OrderedDict()
        self._limits = sessions, answers_each
        self._lock = threading.Lock()

    def remember(self, session: str, position: int, history: list[str], answer: Answer) -> None:
        with self._lock:
            answers = self._sessions.pop(session, {})
            answers[position] = (list(history), answer)
            while len(answers) > self._limits[1]:
                del answers[min(answers)]
            self._sessions[session] = answers
            while len(self._sessions) > self._limits[0]:
                self._sessions.popitem(last=False)

    def get(self, session: str, position: int) -> tuple[list[str], Answer] | None:
        with self._lock:
            return self._sessions.get(session, {}).get(position)

    def of(self, session: str) -> list[tuple[list[str], Answer]]:
        with self._lock:
            answers = self._sessions.get(session, {})
            return [answers[position] for position in sorted(answers)]


def conversation_markdown(turns: list[tuple[list[str], Answer]], exported: str) -> str:
    """A conversation as Markdown: each question, its answer with markers, the cited sentences quoted."""
    from qa.render import format_sources

    parts = [f"# groundqa conversation\n\nExported {exported}. Markers [n] refer to the sources quoted under each answer.\n"]
    for number, (_, answer) in enumerate(turns, start=1):
        parts.append(f"## {number}. {answer.question}\n\n{answer.answer}\n")
        if answer.citations:
            parts.append("\n".join(f"> {line}  " for line in format_sources(answer.citations)) + "\n")
    return "\n".join(parts)


def conversation_json(turns: list[tuple[list[str], Answer]], exported: str) -> dict:
    """The same as JSON: each turn's history and its answer record (as `qa ask --json` gives it)."""
    return {"exported": exported, "turns": [{"history": history, "answer": answer.to_json()} for history, answer in turns]}


def sentence_choices(answer: Answer) -> list[tuple[str, str]]:
    """The sentences a user may name as the right one: the cited, then the others retrieval found."""
    seen, choices = set(), []
    for doc_id, index, sentence_text in ([(c.doc_id, c.sentence_index, c.text) for c in answer.citations]
                                         + [(h.sentence.doc_id, h.sentence.index, h.sentence.text) for h in answer.hits]):
        if (doc_id, index) not in seen:
            seen.add((doc_id, index))
            short = sentence_text if len(sentence_text) <= 160 else sentence_text[:157] + "…"
            choices.append((f"{doc_id} · sentence {index + 1}: {short}", f"{index}\t{doc_id}"))
    return choices
