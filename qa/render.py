"""Plain-text renderings shared by the front ends: an ingest's summary, an answer and its sources."""

from __future__ import annotations

from qa.types import Answer, IngestReport, locator_text


def format_report(report: IngestReport, index_dir) -> str:
    lines = []
    for f in report.files:
        if f.status in ("skipped", "failed"):
            lines.append(f"  {f.status}: {f.path}: {f.reason}")
        elif f.reason:
            lines.append(f"  note: {f.path}: {f.reason}")
    ocr_pages = sum(f.ocr_pages for f in report.files)
    if ocr_pages:
        lines.append(f"  {ocr_pages} pages read by OCR")
    empty = [f.path for f in report.files if f.no_text]
    if empty:
        lines.append(f"  no text at all in {len(empty)} files: {', '.join(empty)}")
    lines.append(
        f"{index_dir}: {report.documents} documents, {report.sentences} sentences "
        f"({report.count('indexed')} files indexed, {report.count('unchanged')} unchanged, "
        f"{report.count('skipped')} skipped, {report.count('failed')} failed, {report.removed} removed; "
        f"{report.embedded} sentences embedded) in {report.seconds:.1f} s"
    )
    return "\n".join(lines)


def format_sources(citations) -> list[str]:
    """One line per citation, numbered as the answer's markers: where it is, and the sentence quoted."""
    lines = []
    for number, c in enumerate(citations, start=1):
        where = f"{c.doc_id}, sentence {c.sentence_index + 1}" + (f", {locator_text(c.locator)}" if c.locator else "")
        lines.append(f"[{number}] {where}: “{c.text}”")
    return lines


def answer_text(answer: Answer) -> str:
    """The answer with its markers, led by the short answer's words when there are any:
    "Financial Times [1]", then the cited sentences' statement."""
    if answer.short_answer is None:
        return answer.answer
    return f"{answer.short_answer.text} [{answer.short_answer.citation}]\n\n{answer.answer}"


def format_answer(answer: Answer, debug: bool = False) -> str:
    lines = [answer_text(answer)]
    if answer.citations:
        lines.append("")
        lines.extend(format_sources(answer.citations))
    if debug:
        lines.append(f"\nretrieval query: {answer.retrieval_query}")
        for h in answer.hits:
            lines.append(f"  {h.score:.4f} dense={h.dense:.3f} bm25={h.lexical:.2f} {h.sentence.doc_id}#{h.sentence.index}: {h.sentence.text[:90]}")
        for note in answer.notes:
            lines.append(f"note: {note}")
        if answer.prompt:
            lines.append(f"\nprompt:\n{answer.prompt}")
    return "\n".join(lines)
