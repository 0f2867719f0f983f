"""The `qa` command: a thin layer over the library. Heavy imports happen inside each command."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from qa.flags import add_answerer_flag, add_index_flags, resolved_from, settings_from
from qa.render import format_answer, format_report


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # refused by the command's own parser, so its usage line is the one shown
        getattr(args, "command_parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
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
    except BrokenPipeError:  # `qa config | head`: the reader has what it wanted
        sys.stderr.close()
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Answer questions about your documents, citing the exact sentences. Offline.",
    )
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("ingest", help="index files, folders and web pages (docs/formats.md lists the formats)")
    p.add_argument("paths", nargs="+", type=_path_or_url, metavar="PATH",
                   help="a file, a folder, an http(s):// address or a .urls file of addresses")
    add_index_flags(p)
    p.add_argument("--rebuild", action="store_true", help="start a new index instead of updating it")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--watch", action="store_true", help="keep running; ingest again whenever the files change")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="split and embed on Ray: a local Ray on this machine's cores, or the cluster at ADDRESS "
                        "(auto: the one this node joined; HOST:6379); needs groundqa[ray] (docs/scale.md)")
    p.set_defaults(run=_ingest)

    p = sub.add_parser("ask", help="answer one question (or JSON lines on stdin with --jsonl)")
    p.add_argument("question", nargs="?", help="the question (omit with --jsonl)")
    add_index_flags(p)
    p.add_argument("--history", action="append", default=[], metavar="TURN", help="an earlier user turn (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--jsonl", action="store_true", help='read {"question", "history"} lines from stdin')
    p.add_argument("--debug", action="store_true", help="include retrieval hits and the LLM prompt")
    add_answerer_flag(p)
    p.set_defaults(run=_ask)

    p = sub.add_parser("chat", help="a terminal chat with history")
    add_index_flags(p)
    add_answerer_flag(p)
    p.set_defaults(run=_chat)

    p = sub.add_parser("serve", help="the HTTP API: /v1/ask, /v1/search, OpenAI-compatible /v1/chat/completions (docs/api.md)")
    add_index_flags(p)
    add_answerer_flag(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; beyond loopback a token is required)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", default=None, help="the bearer token clients must send (default: env QA_API_TOKEN, "
                                                  "which keeps it out of the process list)")
    p.add_argument("--max-queue", type=int, default=None, metavar="N",
                   help="questions waiting beyond this many get 503 busy (default 64)")
    p.add_argument("--rate-limit", type=float, default=None, metavar="PER_MINUTE",
                   help="requests a minute per client address (default 120; 0: no limit)")
    p.set_defaults(run=_serve)

    p = sub.add_parser("mcp", help="an MCP server (tools ask and search, documents as resources) on stdio or --http")
    add_index_flags(p)
    add_answerer_flag(p)
    p.add_argument("--http", action="store_true", help="streamable HTTP at /mcp instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="address for --http (beyond loopback a token is required)")
    p.add_argument("--port", type=int, default=8001, help="port for --http (default 8001)")
    p.add_argument("--token", default=None, help="bearer token for --http (default: env QA_API_TOKEN)")
    p.set_defaults(run=_mcp)

    p = sub.add_parser("config", help="the effective settings and where each came from (default, file, env, flag)")
    add_index_flags(p)
    add_answerer_flag(p)
    p.add_argument("--json", action="store_true", help='one object: {setting: {"value", "source"}}')
    p.set_defaults(run=_config)

    for name, module in (("eval", "qa.evaluate"), ("slack", "qa.slack"), ("bench", "qa.bench"),
                         ("feedback", "qa.feedback")):
        _optional_command(sub, name, module)
    for command in sub.choices.values():
        command.set_defaults(command_parser=command)
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


def _path_or_url(value: str):
    """Web addresses stay text: a Path would fold their // into one."""
    return value if value.startswith(("http://", "https://")) else Path(value)


def _config(args) -> int:
    resolved = resolved_from(args)
    described = resolved.settings.describe()
    effective = {name: described[name] for name in described if name != "limits"}
    effective |= {f"limits.{name}": value for name, value in described["limits"].items()}
    if args.json:
        shown = {name: {"value": _json_number(value), "source": resolved.sources[name]} for name, value in effective.items()}
        print(json.dumps(shown, indent=1))
        return 0
    if resolved.config_file:
        print(f"# config file: {resolved.config_file}")
    width = max(map(len, effective))
    for name, value in effective.items():
        print(f"{name:<{width}}  {value!s:<24} ({resolved.sources[name]})")
    return 0


# -- commands ---------------------------------------------------------------------------------
def _ingest(args) -> int:
    from qa import location
    from qa.ingest import ingest

    settings = settings_from(args)
    if args.watch:
        from qa.errors import UserError
        from qa.watch import watch

        if args.ray is not None:
            raise UserError("--watch ingests each change in this process: drop --ray, or run the Ray ingest without --watch.")

        return watch(args.paths, settings, rebuild=args.rebuild, progress=not args.quiet)
    report = ingest(args.paths, settings, rebuild=args.rebuild, progress=not args.quiet, ray=args.ray)
    print(format_report(report, location.describe(settings)))
    return 0 if report.count("indexed") + report.count("unchanged") else 1


def _json_number(value):
    """JSON has no infinity: such a limit is written as the text a config file would take."""
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


def _ask(args) -> int:
    from qa.assistant import Assistant
    from qa.errors import UserError

    if args.jsonl and args.question is not None:
        raise _usage("give a question, or --jsonl to read questions from stdin, not both")
    assistant = Assistant(settings_from(args))
    if args.jsonl:
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                if not isinstance(request, dict) or "question" not in request:
                    raise ValueError('each line must be a JSON object with a "question" '
                                     '(and optionally a "history" list)')
                answer = assistant.ask(request["question"], request.get("history") or [])
                out = answer.to_json(debug=args.debug)
            except json.JSONDecodeError as exc:
                out = {"error": f"line {number}: not JSON ({exc})"}
            except (ValueError, AttributeError) as exc:
                out = {"error": f"line {number}: {exc}"}
            except UserError as exc:
                out = {"error": f"line {number}: {exc}"}
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


def _serve(args) -> int:
    import os

    from qa.server import serve

    limits = {"max_queue": args.max_queue, "rate_per_minute": args.rate_limit}
    return serve(settings_from(args), args.host, args.port, args.token or os.environ.get("QA_API_TOKEN") or None,
                 **{name: value for name, value in limits.items() if value is not None})


def _mcp(args) -> int:
    import importlib.util
    import os

    if importlib.util.find_spec("mcp") is None:
        raise _usage("qa mcp needs the mcp extra: pip install 'groundqa[mcp]'")
    from qa.mcp_server import serve

    return serve(settings_from(args), http=args.http, host=args.host, port=args.port,
                 token=args.token or os.environ.get("QA_API_TOKEN") or None)


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
