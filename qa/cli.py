"""The `qa` command: a thin layer over the library. Heavy imports happen inside each command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    from qa.errors import UserError

    try:
        return args.run(args) or 0
    except UserError as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Answer questions about your documents, citing the exact sentences. Offline.",
    )
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("ingest", help="index files and folders (.txt .md .html .pdf .jsonl)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    _index_flag(p)
    p.add_argument("--rebuild", action="store_true", help="start a new index instead of updating it")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_ingest)

    p = sub.add_parser("ask", help="answer one question (or JSON lines on stdin with --jsonl)")
    p.add_argument("question", nargs="?", help="the question (omit with --jsonl)")
    _index_flag(p)
    p.add_argument("--history", action="append", default=[], metavar="TURN", help="an earlier user turn (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--jsonl", action="store_true", help='read {"question", "history"} lines from stdin')
    p.add_argument("--debug", action="store_true", help="include retrieval hits and the LLM prompt")
    _answerer_flag(p)
    p.set_defaults(run=_ask)

    p = sub.add_parser("chat", help="a terminal chat with history")
    _index_flag(p)
    _answerer_flag(p)
    p.set_defaults(run=_chat)

    for name, module in (("eval", "qa.evaluate"), ("slack", "qa.slack"), ("bench", "qa.bench")):
        _optional_command(sub, name, module)
    return parser


def _optional_command(sub, name: str, module: str) -> None:
    """Commands whose module declares its own flags; only its argument builder is imported."""
    import importlib

    try:
        target = importlib.import_module(module)
    except ImportError:
        return
    p = sub.add_parser(name, help=target.HELP)
    target.add_arguments(p)
    p.set_defaults(run=target.run)


def _index_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, default=None, metavar="DIR", help="index folder (default: index/default)")
    p.add_argument("--store", default=None, metavar="STORE",
                   help="where the vectors live: faiss (default), milvus://HOST:PORT or PATH.db (Milvus Lite); "
                        "env QA_STORE")


def _answerer_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--answerer", choices=["extractive", "openai", "gguf"], default=None,
                   help="extractive (default, no LLM), openai (QA_LLM_BASE_URL, QA_LLM_MODEL) or gguf (QA_GGUF_PATH)")


def settings_from(args):
    from qa.settings import Settings

    return Settings.from_env(
        index_dir=getattr(args, "index", None),
        vector_store=getattr(args, "store", None),
        answerer=getattr(args, "answerer", None),
    )


# -- commands ---------------------------------------------------------------------------------
def _ingest(args) -> int:
    from qa.ingest import ingest

    settings = settings_from(args)
    report = ingest(args.paths, settings, rebuild=args.rebuild, progress=not args.quiet)
    print(format_report(report, settings.index_dir))
    return 0 if report.count("indexed") + report.count("unchanged") else 1


def format_report(report, index_dir) -> str:
    lines = []
    for f in report.files:
        if f.status in ("skipped", "failed"):
            lines.append(f"  {f.status}: {f.path}: {f.reason}")
        elif f.reason:
            lines.append(f"  note: {f.path}: {f.reason}")
    lines.append(
        f"{index_dir}: {report.documents} documents, {report.sentences} sentences "
        f"({report.count('indexed')} files indexed, {report.count('unchanged')} unchanged, "
        f"{report.count('skipped')} skipped, {report.count('failed')} failed, {report.removed} removed; "
        f"{report.embedded} sentences embedded) in {report.seconds:.1f} s"
    )
    return "\n".join(lines)


def _ask(args) -> int:
    from qa.assistant import Assistant
    from qa.errors import UserError

    assistant = Assistant(settings_from(args))
    if args.jsonl:
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                answer = assistant.ask(request.get("question", ""), request.get("history") or [])
                out = answer.to_json(debug=args.debug)
            except (ValueError, AttributeError) as exc:
                out = {"error": f"line {number}: {exc}"}
            except UserError as exc:
                out = {"error": str(exc)}
            print(json.dumps(out, ensure_ascii=False), flush=True)
        return 0
    if args.question is None:
        raise _usage("give a question, or --jsonl to read questions from stdin")
    answer = assistant.ask(args.question, args.history)
    if args.json:
        print(json.dumps(answer.to_json(debug=args.debug), ensure_ascii=False, indent=2))
    else:
        print(format_answer(answer, debug=args.debug))
    return 0


def _usage(message: str):
    from qa.errors import UserError

    return UserError(message)


def format_answer(answer, debug: bool = False) -> str:
    lines = [answer.answer]
    if answer.citations:
        lines.append("")
        for number, c in enumerate(answer.citations, start=1):
            where = f"{c.doc_id}, sentence {c.sentence_index + 1}" + (f", page {c.page}" if c.page else "")
            lines.append(f"[{number}] {where}: “{c.text}”")
    if debug:
        lines.append(f"\nretrieval query: {answer.retrieval_query}")
        for h in answer.hits:
            lines.append(f"  {h.score:.4f} dense={h.dense:.3f} bm25={h.lexical:.2f} {h.sentence.doc_id}#{h.sentence.index}: {h.sentence.text[:90]}")
        for note in answer.notes:
            lines.append(f"note: {note}")
        if answer.prompt:
            lines.append(f"\nprompt:\n{answer.prompt}")
    return "\n".join(lines)


def _chat(args) -> int:
    from qa.assistant import Assistant
    from qa.errors import UserError

    assistant = Assistant(settings_from(args))
    history: list[str] = []
    print("Ask about your documents. An empty line or Ctrl-D ends the chat.")
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if not question:
            return 0
        try:
            answer = assistant.ask(question, history)
        except UserError as exc:
            print(f"qa: {exc}")
            continue
        print(format_answer(answer) + "\n")
        history.append(question)


if __name__ == "__main__":
    sys.exit(main())
