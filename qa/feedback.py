"""Feedback on answers, kept beside the index, and turned into gold questions for `qa eval`.

    qa feedback list   [--index DIR] [--all]
    qa feedback export [--index DIR] --out gold.jsonl [--reviewed-only]
    qa feedback review [--index DIR] [ID ...] [--answer TEXT | --unanswerable | --reject]

Every front end (web chat, Slack, HTTP API) stores a rating the same way: one JSON line in
`<index>/feedback.jsonl` holding the question, its history, the answer and citations as given,
the settings and code commit that produced them, the rating, and the user's optional comment,
correction and (web chat) the sentence they say is right. Lines are appended under a file lock,
so two processes serving one index never interleave half-lines.

`export` writes the flagged items (down-votes, flags and corrections) in the gold format that
`qa eval` reads (eval/README.md). What a user said decides the gold:

    a correction                      -> answers [correction], answerable
    the sentence that is right        -> supporting [that sentence], answerable
    "missing answer", or a down-voted
    "the documents don't say"         -> answerable (the answer is still to be written in review)
    a down-voted answer, nothing more -> unanswerable: the documents did not support what it said

Each item carries `"reviewed": false` until someone confirms it with `qa feedback review`, and
`--reviewed-only` exports just the confirmed ones, so only checked failures gate a release.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from qa.errors import UserError
from qa.files import code_version
from qa.flags import add_index_flags, settings_from

HELP = "list, review and export the feedback users gave on answers (exports gold questions for qa eval)"
FILE = "feedback.jsonl"
RATINGS = ("up", "down")
FLAGS = ("wrong_citation", "missing_answer")
SOURCES = ("web", "slack", "api")
MAX_TEXT = 10_000  # a comment or correction longer than this is cut: feedback is not a document store


@dataclass
class Feedback:
    """One rating of one answer, as stored (one JSON line)."""

    question: str
    answer: str
    rating: str  # "up" | "down"
    source: str  # "web" | "slack" | "api"
    history: list[str] = field(default_factory=list)
    abstained: bool = False
    citations: list[dict] = field(default_factory=list)  # as the answer record gave them
    comment: str = ""
    correction: str = ""  # the right answer, in the user's words
    flags: list[str] = field(default_factory=list)  # of FLAGS
    # The sentence the user says is right: {"doc_id", "sentence_index", "text"}.
    correct_sentence: dict | None = None
    user: str = ""  # who rated, where the front end knows (a Slack user id)
    settings: dict = field(default_factory=dict)
    commit: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    reviewed: bool = False
    rejected: bool = False
    answerable: bool | None = None  # set in review; None: judged from what the user said

    def __post_init__(self) -> None:
        if self.rating not in RATINGS:
            raise UserError(f"A rating is one of {', '.join(RATINGS)}, not {self.rating!r}.")
        if self.source not in SOURCES:
            raise UserError(f"Feedback comes from one of {', '.join(SOURCES)}, not {self.source!r}.")
        unknown = sorted(set(self.flags) - set(FLAGS))
        if unknown:
            raise UserError(f"Unknown feedback flag {unknown[0]!r}: use {', '.join(FLAGS)}.")
        if not (self.question or "").strip():
            raise UserError("Feedback needs the question that was asked.")
        self.comment = (self.comment or "")[:MAX_TEXT]
        self.correction = (self.correction or "").strip()[:MAX_TEXT]

    @property
    def flagged(self) -> bool:
        """A failure worth a gold question: a down-vote, a flag or a correction."""
        return not self.rejected and (self.rating == "down" or bool(self.flags) or bool(self.correction))

    @classmethod
    def from_json(cls, record: dict) -> Feedback:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})


def of_answer(record: dict, rating: str, source: str, settings, history: list[str] | None = None,
              **given: Any) -> Feedback:
    """Feedback on an answer record (`Answer.to_json()`), with the settings that produced it."""
    return Feedback(
        question=record["question"],
        answer=record["answer"],
        abstained=bool(record.get("abstained")),
        citations=list(record.get("citations") or []),
        history=list(history or []),
        rating=rating,
        source=source,
        settings=settings.describe(),
        commit=code_version()["commit"],
        **given,
    )


# -- the store --------------------------------------------------------------------------------
def path_of(index_dir: Path) -> Path:
    return Path(index_dir) / FILE


def _lock(index_dir: Path):
    from filelock import FileLock

    Path(index_dir).mkdir(parents=True, exist_ok=True)
    return FileLock(str(path_of(index_dir)) + ".lock", timeout=30)


def record(index_dir: Path, item: Feedback) -> Feedback:
    """Append `item` to the index's feedback file; a whole line or nothing."""
    line = json.dumps(asdict(item), ensure_ascii=False) + "\n"
    with _lock(index_dir):
        with open(path_of(index_dir), "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
    return item


def read(index_dir: Path) -> list[Feedback]:
    """Every stored item, oldest first. A line that cannot be read is reported, not fatal."""
    path = path_of(index_dir)
    if not path.exists():
        return []
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(Feedback.from_json(json.loads(line)))
        except (ValueError, TypeError, UserError) as exc:
            print(f"qa: {path}, line {number} skipped: {exc}", file=sys.stderr)
    return items


def review(index_dir: Path, ids: list[str], answer: str | None = None, unanswerable: bool = False,
           reject: bool = False) -> list[Feedback]:
    """Mark the items whose id starts with one of `ids` as reviewed (or rejected), optionally
    with the right answer; the file is rewritten whole and swapped in atomically."""
    path = path_of(index_dir)
    with _lock(index_dir):
        items = read(index_dir)
        chosen = [item for item in items if any(item.id.startswith(prefix) for prefix in ids)]
        missing = [prefix for prefix in ids if not any(item.id.startswith(prefix) for item in items)]
        if missing:
            raise UserError(f"No feedback with id {missing[0]!r} in {path}: `qa feedback list` shows them.")
        for item in chosen:
            item.reviewed = True
            item.rejected = reject
            if answer is not None:
                item.correction = answer.strip()
                item.answerable = True
            if unanswerable:
                item.correction = ""
                item.correct_sentence = None
                item.answerable = False
        temporary = path.with_suffix(".jsonl.tmp")
        with open(temporary, "w", encoding="utf-8") as out:
            for item in items:
                out.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    return chosen


# -- gold -------------------------------------------------------------------------------------
def to_gold(item: Feedback) -> dict:
    """A flagged item as a gold question (eval/README.md's format), with what the user said."""
    supporting = []
    if item.correct_sentence:
        chosen = item.correct_sentence
        supporting.append({"doc_id": chosen["doc_id"], "sent_idx": chosen.get("sentence_index"),
                           "sentence": chosen.get("text", "")})
    answerable = item.answerable
    if answerable is None:
        answerable = bool(item.correction or supporting or "missing_answer" in item.flags or item.abstained)
    return {
        "id": f"feedback-{item.id}",
        "question": item.question,
        "answers": [item.correction] if item.correction else [],
        "answerable": answerable,
        "supporting": supporting,
        "history": item.history,
        "reviewed": item.reviewed,
        "feedback": {
            "source": item.source, "rating": item.rating, "flags": item.flags, "comment": item.comment,
            "answer_given": item.answer, "citations_given": item.citations, "created": item.created,
            "commit": item.commit,
        },
    }


def export(index_dir: Path, out: Path, reviewed_only: bool = False) -> int:
    """Write the flagged items as gold questions to `out`; returns how many."""
    gold = [to_gold(item) for item in read(index_dir) if item.flagged and (item.reviewed or not reviewed_only)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in gold), encoding="utf-8")
    return len(gold)


def describe(item: Feedback) -> str:
    state = "rejected" if item.rejected else "reviewed" if item.reviewed else "to review" if item.flagged else ""
    said = "; ".join(part for part in (
        f"flags: {', '.join(item.flags)}" if item.flags else "",
        f"correction: {item.correction}" if item.correction else "",
        f"right sentence: {item.correct_sentence['doc_id']} #{item.correct_sentence.get('sentence_index', 0) + 1}"
        if item.correct_sentence else "",
        f"comment: {item.comment}" if item.comment else "",
    ) if part)
    lines = [f"{item.id}  {item.created}  {item.source:5}  {item.rating:4}  {state}",
             f"  Q: {item.question}", f"  A: {' '.join(item.answer.split())[:300]}"]
    if said:
        lines.append(f"  {said}")
    return "\n".join(lines)


# -- the command ------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:

    sub = parser.add_subparsers(metavar="ACTION", dest="action", required=True)
    p = sub.add_parser("list", help="show the feedback that came in (flagged items; --all for every rating)")
    add_index_flags(p)
    p.add_argument("--all", action="store_true", help="up-votes too")
    p = sub.add_parser("export", help="write flagged items as gold questions that qa eval reads")
    add_index_flags(p)
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="the gold .jsonl to write")
    p.add_argument("--reviewed-only", action="store_true", help="only items confirmed with qa feedback review")
    p = sub.add_parser("review", help="confirm flagged items as gold questions (all unreviewed ones with no ID)")
    add_index_flags(p)
    p.add_argument("ids", nargs="*", metavar="ID", help="feedback ids (a unique prefix is enough)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--answer", metavar="TEXT", help="the right answer, replacing the user's correction")
    what.add_argument("--unanswerable", action="store_true", help="the documents do not answer it")
    what.add_argument("--reject", action="store_true", help="not a failure: leave it out of the export")


def run(args: argparse.Namespace) -> int:

    index_dir = settings_from(args).index_dir
    if args.action == "list":
        items = [item for item in read(index_dir) if args.all or item.flagged]
        for item in items:
            print(describe(item) + "\n")
        print(f"{len(items)} items in {path_of(index_dir)}")
    elif args.action == "export":
        count = export(index_dir, args.out, args.reviewed_only)
        print(f"wrote {count} gold questions to {args.out}; run: qa eval {args.out} --index {index_dir} --out OUT")
    elif args.ids:
        chosen = review(index_dir, args.ids, args.answer, args.unanswerable, args.reject)
        print(f"{len(chosen)} items marked {'rejected' if args.reject else 'reviewed'}")
    else:
        return _review_each(index_dir)
    return 0


def _review_each(index_dir: Path) -> int:
    """Walk the unreviewed flagged items one by one, asking what each is."""
    waiting = [item for item in read(index_dir) if item.flagged and not item.reviewed]
    if not waiting:
        print("Nothing to review.")
        return 0
    print("For each: y = keep as it is, a = give the right answer, u = unanswerable, r = reject, s = skip, q = quit")
    for item in waiting:
        print("\n" + describe(item) + "\n  gold: " + json.dumps(to_gold(item)["answers"], ensure_ascii=False)
              + (" (answerable)" if to_gold(item)["answerable"] else " (unanswerable)"))
        try:
            choice = input("  [y/a/u/r/s/q]? ").strip().lower()[:1]
            if choice == "a":
                review(index_dir, [item.id], answer=input("  right answer: "))
            elif choice in ("y", "u", "r"):
                review(index_dir, [item.id], unanswerable=choice == "u", reject=choice == "r")
            elif choice == "q":
                break
        except EOFError:
            break
    return 0
