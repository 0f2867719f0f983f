"""`qa eval`: answer a gold set in one process; score answers, citations, retrieval and abstention.

    qa eval eval/sample_gold.jsonl --docs corpus --out eval/out/sample
    qa eval questions.jsonl --docs documents.jsonl --index index/bench-hotpotqa --split test --setting distractor --out OUT
    qa eval eval/sample_gold.jsonl --docs corpus --out OUT --baseline eval/baseline/metrics.json

Every question goes through `Assistant.ask`, the call every front end makes, with the model and
index loaded once. Writes metrics.json (stamped with the settings, git commit and model file
hashes), results.jsonl, report.md and three plots into --out; the gold format and the metrics are
described in eval/README.md. Exits 3 when a headline metric regressed against --baseline, question
by question, beyond the allowed margin and its interval (1 stays "could not run").
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa import location, metrics, milvus
from qa.errors import UserError
from qa.files import code_version, sha256_of
from qa.flags import add_answerer_flag, add_index_flags, settings_from

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.settings import Settings
    from qa.types import Answer

HELP = "score answers, citations and abstention against a gold set (a regression gate with --baseline)"
REGRESSED = 3
RETRIEVAL_K = 10  # retrieval_recall_at_10 looks at this many hits
TUNING_SPLITS = ("train", "dev")


def tuning_split(name: str) -> str:
    """argparse type of a tuning tool's --split: test splits are for reporting, never for tuning."""
    if name not in TUNING_SPLITS:
        raise argparse.ArgumentTypeError(
            f"{name!r}: tuning tools read only {' or '.join(TUNING_SPLITS)}; test splits are for reporting "
            "(qa eval --split test, eval/benchmarks.py), never for choosing settings")
    return name


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("gold", type=Path, metavar="GOLD", help="gold questions: .jsonl (see eval/README.md) or a .csv of question,answer")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where metrics.json, results.jsonl, report.md and the plots go")
    p.add_argument("--docs", type=Path, nargs="+", default=None, metavar="DOCS",
                   help="files or folders (or a documents.jsonl) to index first: into a temporary index, "
                        "or into --index DIR when given (kept, and updated incrementally next time)")
    add_index_flags(p)
    p.add_argument("--split", default=None, metavar="NAME", help="only the questions of this split (train, dev, test)")
    p.add_argument("--setting", choices=["open", "distractor"], default="open",
                   help="open: retrieve from every document; distractor: only from each question's candidate_doc_ids")
    add_answerer_flag(p)
    p.add_argument("--limit", type=int, default=0, metavar="N", help="a fixed random sample of N questions (seed 0)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="questions answered at once (default 1: on 2 cores threads only contend; more helps an LLM server)")
    p.add_argument("--baseline", type=Path, default=None, metavar="METRICS.json",
                   help="an earlier run's metrics.json, with its results.jsonl beside it, to compare with question by question")
    p.add_argument("--max-drop", type=float, default=0.02, metavar="D",
                   help="fail when a score metric gets worse by more than D (absolute; default 0.02) "
                        "and by more than its paired 95%% interval")
    p.add_argument("--max-slowdown", type=float, default=1.0, metavar="R",
                   help="fail when a latency grows by more than R (relative; default 1.0: twice as slow; inf: never)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


# --- gold ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    supporting: tuple[dict, ...] = ()  # {"doc_id", "sentence" and/or "sent_idx"}
    history: tuple[str, ...] = ()
    candidate_doc_ids: tuple[str, ...] | None = None
    split: str | None = None


def read_gold(path: Path) -> list[GoldQuestion]:
    """Gold questions from JSONL (the benchmarks' format) or a CSV of question,answer."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"Cannot read the gold file {path}: {exc.strerror or exc}") from None
    questions = _read_csv(text) if path.suffix.lower() == ".csv" else _read_jsonl(text, path)
    if not questions:
        raise UserError(f"{path} holds no questions.")
    return questions


def _read_jsonl(text: str, path: Path) -> list[GoldQuestion]:
    questions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            answers = tuple(str(a) for a in r.get("answers") or [])
            candidates = r.get("candidate_doc_ids")
            questions.append(GoldQuestion(
                id=str(r.get("id") or f"line-{number}"),
                question=_nonempty(r["question"]),
                answers=answers,
                answerable=bool(r.get("answerable", bool(answers))),
                supporting=tuple(dict(s, doc_id=str(s["doc_id"])) for s in r.get("supporting") or []),
                history=tuple(str(turn) for turn in r.get("history") or []),
                candidate_doc_ids=None if candidates is None else tuple(map(str, candidates)),
                split=r.get("split"),
            ))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UserError(f"{path}, line {number}: not a gold question ({type(exc).__name__}: {exc}); "
                            'expected {"question", "answers", "answerable", "supporting", ...}') from None
    return questions


def _read_csv(text: str) -> list[GoldQuestion]:
    """question,answer rows; a header row naming them is optional. An empty answer marks a
    question the documents do not answer. With no gold sentences, citation and retrieval
    figures stay empty (null)."""
    rows = [row for row in csv.reader(text.splitlines()) if any(cell.strip() for cell in row)]
    if rows and [cell.strip().lower() for cell in rows[0][:2]] in (["question", "answer"], ["question", "answers"]):
        rows = rows[1:]
    questions = []
    for number, row in enumerate(rows, start=1):
        try:
            question = _nonempty(row[0])
        except ValueError:
            raise UserError(f"CSV row {number}: the question is empty.") from None
        answer = row[1].strip() if len(row) > 1 else ""
        questions.append(GoldQuestion(f"row-{number}", question, (answer,) if answer else (), bool(answer)))
    return questions


def _nonempty(question) -> str:
    if not isinstance(question, str) or not question.strip():
        raise ValueError("empty question")
    return question.strip()


def select(questions: list[GoldQuestion], split: str | None, limit: int) -> list[GoldQuestion]:
    """The questions of `split`, then a seeded random sample of `limit` of them, in file order
    (a plain head would take whole articles of a set sorted by article, as SQuAD's is)."""
    if split is not None:
        kept = [q for q in questions if q.split == split]
        if not kept:
            found = sorted({str(q.split) for q in questions})
            raise UserError(f"No question has split {split!r} (the gold file has: {', '.join(found)}).")
        questions = kept
    if 0 < limit < len(questions):
        chosen = sorted(random.Random(0).sample(range(len(questions)), limit))
        questions = [questions[i] for i in chosen]
    return questions


def read_baseline(path: Path) -> tuple[dict, dict[str, metrics.Scores]]:
    """A baseline run: its metrics.json and, from the results.jsonl beside it, each question's
    Scores by `question_key` (the gate compares question by question)."""
    results = path.parent / "results.jsonl"
    try:
        baseline = json.loads(path.read_text())
        lines = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
        scores = {question_key(line["id"], line["question"]): metrics.Scores.from_json(line["scores"]) for line in lines}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"Cannot read the baseline {path} and the results.jsonl beside it ({exc}). The gate pairs "
                        "questions: give the metrics.json of a qa eval --out DIR that still holds its results.jsonl.") from None
    if not isinstance(baseline, dict) or not any(k in baseline for k in metrics.HIGHER_IS_BETTER):
        raise UserError(f"{path} is not a metrics.json written by qa eval.")
    return baseline, scores


def question_key(question_id: str, question: str) -> str:
    """What pairs a question across two runs: its id and text, not its place in the file."""
    return f"{question_id}\t{question}"


def digest(questions: list[GoldQuestion]) -> str:
    """Names the question set (in any order), so that a diff against a baseline of other questions is flagged."""
    text = "\n".join(sorted(question_key(q.id, q.question) for q in questions))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- answering -------------------------------------------------------------------------------
@contextmanager
def prepared(settings: Settings, docs: list[Path] | None, keep: bool, progress: bool):
    """Settings whose index holds `docs`: a temporary index, or the given one updated in place."""
    if docs and not keep:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
            # Kept in the same kind of store: a Milvus index is measured in a scratch Milvus Lite file.
            lite = str(Path(scratch) / "index.db") if milvus.target_of(settings.vector_store) else "faiss"
            temporary = settings.with_(index_dir=Path(scratch) / "index", vector_store=lite)
            _ingest(docs, temporary, progress)
            yield temporary
        return
    if docs:
        _ingest(docs, settings, progress)
    yield settings


def _ingest(docs: list[Path], settings: Settings, progress: bool) -> None:
    from qa.ingest import ingest
    from qa.render import format_report

    report = ingest(docs, settings, progress=progress)
    print(format_report(report, location.describe(settings)), file=sys.stderr)
    if not report.documents:
        raise UserError(f"Nothing in {' '.join(map(str, docs))} could be indexed.")


@dataclass
class Asked:
    """One question's answer, plus the answer given with no threshold when it abstained."""

    answer: Answer
    without_threshold: Answer | None


def ask_all(assistant: Assistant, questions: list[GoldQuestion], distractor: bool, answerer: str | None,
            workers: int, progress: bool) -> tuple[list[Asked], float]:
    """Every question asked once, in gold order, and the seconds that took.

    An abstention carries no support score, so an abstained question is asked again with no
    threshold: that gives its confidence and what a lower threshold would have answered, which
    the threshold curve needs. Only the first ask is timed and scored. A warm-up question goes
    first, so that loading the model and index is in neither the latencies nor the seconds.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from qa.assistant import Assistant

    unthresholded = Assistant(assistant.settings.with_(abstain_below=0.0), encoder=assistant.encoder)

    def one(q: GoldQuestion) -> Asked:
        doc_ids = list(q.candidate_doc_ids) if distractor else None
        answer = assistant.ask(q.question, list(q.history), doc_ids=doc_ids, answerer=answerer)
        again = unthresholded.ask(q.question, list(q.history), doc_ids=doc_ids, answerer=answerer) if answer.abstained else None
        return Asked(answer, again)

    one(questions[0])
    began = time.perf_counter()
    with ThreadPoolExecutor(max(1, workers)) as pool:
        asked = list(tqdm(pool.map(one, questions), total=len(questions), desc="eval", unit="q",
                          file=sys.stderr, disable=not progress))
    return asked, time.perf_counter() - began


# --- scoring ---------------------------------------------------------------------------------
def scored(q: GoldQuestion, asked: Asked, doc_texts: dict[str, str]) -> tuple[dict, metrics.Scores]:
    """The question's line of results.jsonl, and its Scores."""
    answer = asked.answer
    cited = [metrics.Span(c.doc_id, c.start, c.end) for c in answer.citations]
    retrieved = [metrics.Span(h.sentence.doc_id, h.sentence.start, h.sentence.end) for h in answer.hits[:RETRIEVAL_K]]
    supporting = q.supporting if q.answerable else ()
    matches = metrics.match(cited, retrieved, [metrics.locate(item, doc_texts) for item in supporting])
    spoken = asked.without_threshold if answer.abstained else answer
    spoke = spoken is not None and not spoken.abstained
    short_answer = answer.short_answer.text if answer.short_answer else None
    scores = metrics.score(
        answer=answer.answer,
        abstained=answer.abstained,
        golds=list(q.answers),
        answerable=q.answerable,
        matches=matches,
        latency_ms=answer.timings_ms["total"],
        confidence=max((c.score for c in spoken.citations), default=None) if spoke else None,
        answer_without_threshold=spoken.answer if spoke else "",
        short_answer=short_answer,
        llm_claims_removed=sum(not claim.supported for claim in answer.claims),
    )
    line = {
        "id": q.id,
        "split": q.split,
        "question": q.question,
        "history": list(q.history),
        "gold_answers": list(q.answers),
        "answer": answer.answer,
        "short_answer": short_answer,
        "abstained": answer.abstained,
        "answer_without_threshold": asked.without_threshold.answer if asked.without_threshold else None,
        "citations": [
            {"doc_id": c.doc_id, "sentence_index": c.sentence_index, "start": c.start, "end": c.end,
             "text": c.text, "score": c.score, "claim": c.claim, "on_gold": on, "on_gold_strict": strict}
            for c, on, strict in zip(answer.citations, matches.citations_on_gold, matches.citations_on_gold_strict)
        ],
        "gold_sentences": [
            {"doc_id": s["doc_id"], "sentence": s.get("sentence"), "located": located, "cited": cited_,
             "cited_strict": strict, "retrieved": got}
            for s, located, cited_, strict, got in zip(supporting, matches.gold_located, matches.gold_cited,
                                                       matches.gold_cited_strict, matches.gold_retrieved)
        ],
        "retrieved": [[h.sentence.doc_id, h.sentence.index] for h in answer.hits[:RETRIEVAL_K]],
        "timings_ms": {k: round(v, 1) for k, v in answer.timings_ms.items()},
        "notes": list(answer.notes),
        "scores": scores.to_json(),
    }
    return line, scores


def stage_latencies(asked: list[Asked]) -> dict[str, float]:
    """Median ms of each stage of ask() (load, retrieve, support, answer, total)."""
    stages = sorted({stage for a in asked for stage in a.answer.timings_ms})
    import numpy as np

    return {stage: round(float(np.median([a.answer.timings_ms.get(stage, 0.0) for a in asked])), 1) for stage in stages}


# --- what a figure can be traced to ---------------------------------------------------------
def model_files(settings: Settings, answerer: str) -> dict[str, Path]:
    """Every model file the answers may depend on, by role. A new model file is one line here."""
    from qa import embedding

    files = {
        "encoder_weights": embedding.model_path() / "model.safetensors",
        "encoder_onnx_fp32": embedding.exported_model(),
        "encoder_onnx_int8": embedding.quantized_model(),
        "citer": Path(settings.citer) if settings.citer else None,
        "reader": Path(settings.reader) if settings.reader else None,
        # Its calibration (the support combination and the thresholds' origin) lives here.
        "reader_json": Path(settings.reader).with_name("reader.json") if settings.reader else None,
        "gguf": _gguf_file(settings) if answerer == "gguf" else None,
    }
    return {role: path for role, path in files.items() if path is not None}


def _gguf_file(settings: Settings) -> Path:
    from qa.gguf import SMOLLM2, smollm2_path

    return smollm2_path() if settings.gguf_path == SMOLLM2 else Path(settings.gguf_path)


def model_hashes(settings: Settings, answerer: str) -> dict[str, dict]:
    return {role: {"path": str(path), "sha256": sha256_of(path) if path.is_file() else None}
            for role, path in model_files(settings, answerer).items()}


# --- the command -----------------------------------------------------------------------------
def run(args, settings: Settings | None = None) -> int:
    """`qa eval`. `settings` replaces the ones the flags and environment give (tests plant a
    deliberately worse answerer this way)."""
    from qa.assistant import Assistant
    from qa.report import format_changes, format_headline, write_report

    began = time.perf_counter()
    for path in args.docs or []:
        if not path.exists():
            raise UserError(f"--docs {path}: no such file or folder.")
    baseline, baseline_scores = read_baseline(args.baseline) if args.baseline else (None, None)
    questions = select(read_gold(args.gold), args.split, args.limit)
    distractor = args.setting == "distractor"
    lacking = [q.id for q in questions if q.candidate_doc_ids is None] if distractor else []
    if lacking:
        raise UserError(f"--setting distractor needs candidate_doc_ids on every question; {len(lacking)} lack "
                        f"them (first: {lacking[0]}). Use --setting open.")

    settings = settings or settings_from(args)
    with prepared(settings, args.docs, keep=args.index is not None, progress=not args.quiet) as settings:
        assistant = Assistant(settings)
        asked, seconds = ask_all(assistant, questions, distractor, args.answerer, args.workers, not args.quiet)
        index = assistant.index
        # Only the documents gold sentences lie in: an index in Milvus reads each one by key.
        wanted = {item["doc_id"] for q in questions for item in q.supporting}
        doc_texts = {doc_id: stored.document.text for doc_id in wanted if (stored := index.documents.get(doc_id))}
        results = [scored(q, a, doc_texts) for q, a in zip(questions, asked)]
    lines, scores = [r[0] for r in results], [r[1] for r in results]

    figures = metrics.aggregate(scores)
    figures["latency_stages_p50_ms"] = stage_latencies(asked)
    figures["run"] = {
        "gold": str(args.gold),
        "questions_sha256": digest(questions),
        "split": args.split,
        "setting": args.setting,
        "limit": args.limit or None,
        "answerer": asked[0].answer.answerer,
        "abstain_below": settings.abstain_below,
        "documents": len(index.documents),
        "sentences": index.sentence_count,
        "workers": args.workers,
        "seconds_answering": round(seconds, 1),
        "seconds_total": round(time.perf_counter() - began, 1),
        "git": code_version(),
        "settings": settings.describe(),
        "models": model_hashes(settings, asked[0].answer.answerer),
    }
    changes = None
    if baseline is not None:
        current = {question_key(q.id, q.question): s for q, s in zip(questions, scores)}
        changes = metrics.compare(baseline_scores, current, baseline, figures, args.max_drop, args.max_slowdown)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    with (args.out / "results.jsonl").open("w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    write_report(args.out, figures, lines, scores, changes, baseline, len(baseline_scores or ()))

    print(format_headline(figures))
    if changes:
        print("\n" + format_changes(changes, baseline, figures, len(baseline_scores)))
    print(f"\n{len(questions)} questions in {seconds:.1f} s; wrote {args.out}/report.md")
    failed = [c.metric for c in changes or [] if c.failed]
    if failed:
        print(f"qa eval: regression against {args.baseline}: {', '.join(failed)}", file=sys.stderr)
        return REGRESSED
    return 0
