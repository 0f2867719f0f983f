"""HTML for the web chat: every piece of document or model text is escaped before it is shown.

Gradio renders chat messages as markdown and then sanitizes HTML, but markdown itself is active
content ("[x](http://…)" becomes a link, "![x](…)" an image that loads), so text is escaped for
both: HTML entities for <, >, & and quotes, and numeric entities for markdown punctuation.
"""

from __future__ import annotations

from collections import defaultdict

from qa.types import Answer, Citation, locator_text

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
    return body


def sources_html(answer: Answer, context_of) -> str:
    """The cited sentences highlighted in their paragraphs, grouped by the claim they support.

    `context_of(citation)` returns (before, sentence, after) text around the cited sentence.
    """
    if not answer.citations:
        return '<div class="sources empty">No sources: the documents do not answer this.</div>'
    by_claim: dict[int, list[tuple[int, Citation]]] = defaultdict(list)
    for number, citation in enumerate(answer.citations, start=1):
        by_claim[citation.claim].append((number, citation))
    parts = ['<div class="sources">']
    for claim, cited in by_claim.items():
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
                f'<div class="context">{text(before)} <mark>{text(sentence)}</mark> {text(after)}</div></div>'
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
.sources .claim:has(.corroborated) { border-left: 4px solid #26a269; padding-left: 8px; margin-bottom: 12px; }
.sources .corroborated { font-size: 0.85em; color: #26a269; font-weight: bold; margin: 0 0 6px; }
.sources .context { line-height: 1.45; }
"""
