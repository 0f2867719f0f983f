"""The web chat: a thin Gradio front end over Assistant.ask and qa.ingest.

    .venv/bin/python app.py [--index DIR] [--docs PATH] [--host 127.0.0.1] [--port 7860]
"""

# Without `from __future__ import annotations`: Gradio finds the gr.Request and gr.LikeData
# arguments of the handlers in build() by type hints, which it cannot resolve from text there.
import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

# Before gradio is imported: no analytics, no hub lookups (the machine may be offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.render import format_report  # noqa: E402
from qa.errors import UserError  # noqa: E402
from qa.settings import Settings  # noqa: E402

CHECKOUT = Path(__file__).resolve().parent  # app.py runs from the checkout
SAMPLE_CORPUS = CHECKOUT / "corpus"
UPLOAD_TYPES = [".txt", ".md", ".html", ".htm", ".pdf", ".jsonl", ".docx", ".pptx", ".xlsx", ".csv", ".odt", ".epub",
                ".eml", ".mbox", ".png", ".jpg", ".jpeg", ".tif", ".tiff"]
# The document list shows this many names; a watching ingest (qa ingest --watch) refreshes it.
LISTED_DOCUMENTS = 50
REFRESH_SECONDS = 10
MAX_UPLOAD = "20mb"
MAX_UPLOAD_FILES = 50
# Two cores answer about one question at a time; a few run together so one slow LLM reply does
# not hold everyone up, and the rest wait in a bounded queue: past it a user is told the server is
# busy at once instead of waiting minutes.
CONCURRENCY = 4
MAX_QUEUE = 64
EXAMPLES = [
    "What did the US rule out?",
    "Who leads the Coalition of the Willing?",
    "How much did Norway contribute?",
    "What is the capital of Peru?",
]
# Gradio shows "Like" and "Dislike" as thumbs, the others under a flag; each flag is stored as its key.
FEEDBACK_OPTIONS = {"Like": None, "Dislike": None, "Wrong citation": "wrong_citation", "Missing answer": "missing_answer"}
FEEDBACK_FLAGS = {"A citation is wrong": "wrong_citation", "The answer is missing something": "missing_answer"}
log = logging.getLogger("groundqa.web")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="groundqa web chat")
    parser.add_argument("--index", type=Path, default=None, help="index folder (default: index/default)")
    parser.add_argument("--store", default=None, metavar="STORE",
                        help="faiss (the index folder, default) or an index wholly in Milvus: milvus://HOST:PORT[/NAME] "
                             "or PATH.db (Milvus Lite); env QA_STORE")
    parser.add_argument("--docs", type=Path, action="append", default=[], help="index these documents first")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--max-queue", type=int, default=MAX_QUEUE,
                        help=f"questions waiting beyond this many are refused as busy (default {MAX_QUEUE})")
    parser.add_argument("--api", action="store_true",
                        help="also serve the HTTP API (/v1/ask, /v1/chat/completions …; docs/api.md) on the same port; "
                             "its token is QA_API_TOKEN, required beyond loopback")
    parser.add_argument("--insecure-open", action="store_true",
                        help="allow a non-loopback host without a password (anyone who can reach it can use it)")
    return parser.parse_args(argv)


def credentials(host: str, insecure_open: bool) -> tuple[str, str] | None:
    """A password is required once the server is reachable from other machines."""
    user, password = os.environ.get("QA_WEB_USER"), os.environ.get("QA_WEB_PASSWORD")
    if user and password:
        return user, password
    from qa.server import is_loopback

    if not is_loopback(host) and not insecure_open:
        raise UserError(
            f"Refusing to serve on {host} without a password: set QA_WEB_USER and QA_WEB_PASSWORD, "
            "or pass --insecure-open to accept an open server."
        )
    return None


def build(assistant, settings: Settings):
    import gradio as gr

    from qa import feedback
    from qa.ingest import ingest
    from qa.server import configured_answerers
    from qa.web import (Conversations, answer_html, conversation_json, conversation_markdown, sentence_choices,
                        sources_html, text)

    conversations = Conversations()

    def context_of(citation, around: int = 2):
        siblings = assistant.index.document_sentences(citation.doc_id)
        i = citation.sentence_index
        before = " ".join(s.text for s in siblings[max(0, i - around) : i])
        after = " ".join(s.text for s in siblings[i + 1 : i + 1 + around])
        return before, citation.text, after

    def index_summary() -> str:
        try:
            manifest = assistant.index.manifest
        except UserError as exc:
            return text(str(exc))
        return (f"**{manifest['documents']}** documents · **{manifest['sentences']}** sentences · "
                f"updated {manifest.get('created', '?')}")

    def respond(message: str, chat: list[dict], answerer: str, request: gr.Request):
        question = (message or "").strip()
        chat = list(chat or [])
        history = [_plain(turn["content"]) for turn in chat if turn["role"] == "user"]
        chat.append({"role": "user", "content": text(question)})
        try:
            answer = assistant.ask(question, history=history, answerer=answerer)
        except UserError as exc:
            chat.append({"role": "assistant", "content": f'<div class="abstained">{text(str(exc))}</div>'})
            yield "", chat, gr.update()
            return
        except Exception:  # noqa: BLE001 - one failed request must not take the app down
            log.exception("answering %r failed", question)
            chat.append({"role": "assistant", "content": '<div class="abstained">Something went wrong answering this '
                         "question; it has been logged. Please try again.</div>"})
            yield "", chat, gr.update()
            return
        conversations.remember(request.session_hash, len(chat), history, answer)  # the answer's place in the chat
        words = answer_html(answer).split(" ")
        # Streamed in three pieces, the sources with the last: each piece is an event sent to the
        # browser, and under load those events cost the server more than answering does
        # (measured with eval/load_web.py).
        step = -(-len(words) // 3)  # ceiling: at most three pieces
        for end in range(step, len(words), step):
            yield "", chat + [{"role": "assistant", "content": " ".join(words[:end])}], gr.update()
        yield "", chat + [{"role": "assistant", "content": " ".join(words)}], sources_html(answer, context_of)

    def document_list() -> str:
        try:
            names = list(assistant.index.documents)
        except UserError:
            return ""
        shown = ", ".join(f"`{text(name)}`" for name in names[:LISTED_DOCUMENTS])
        return shown + (f" and {len(names) - LISTED_DOCUMENTS} more" if len(names) > LISTED_DOCUMENTS else "")

    def cited_pages(request: gr.Request):
        """The last answer's citations that can be shown on their page (PDFs and images)."""
        from qa.page_image import can_show

        turns = conversations.of(request.session_hash)
        choices = []
        for number, c in enumerate(turns[-1][1].citations if turns else [], start=1):
            stored = assistant.index.documents.get(c.doc_id)
            if c.page and stored is not None and can_show(stored.document.source):
                choices.append((f"[{number}] {c.doc_id} · page {c.page}", f"{c.page}\t{c.sentence_index}\t{c.doc_id}"))
        first = choices[0][1] if choices else None
        return gr.update(choices=choices, value=first, visible=bool(choices)), gr.update(visible=bool(choices))

    def show_page(choice: str | None):
        """The cited sentence marked on its rendered page, next to the sources' highlighted paragraph."""
        import io

        from PIL import Image

        from qa.page_image import highlighted_page

        if not choice:
            return gr.update(value=None)
        page, index, doc_id = choice.split("\t", 2)
        stored = assistant.index.documents.get(doc_id)
        if stored is None:
            return gr.update(value=None, label="That document is no longer indexed.")
        sentence = assistant.index.document_sentences(doc_id)[int(index)]
        try:
            png = highlighted_page(stored.document.source, int(page), sentence.text, int(page) in stored.document.ocr_pages,
                                   settings.limits)
        except UserError as exc:
            return gr.update(value=None, label=str(exc))
        return gr.update(value=Image.open(io.BytesIO(png)), label=f"{doc_id} · page {page}")

    def add_documents(files, progress=gr.Progress()):
        if not files:
            return "Choose files to add first.", index_summary()
        if len(files) > MAX_UPLOAD_FILES:
            return f"At most {MAX_UPLOAD_FILES} files at a time.", index_summary()
        uploads = Path(settings.index_dir) / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        progress(0.1, desc="copying")
        for file in files:
            source = Path(file if isinstance(file, str) else file.name)
            shutil.copyfile(source, uploads / Path(source.name).name)
        progress(0.3, desc="embedding")
        try:
            report = ingest([uploads], settings, wait=60)  # with the encoder that embedded the index
        except UserError as exc:
            return text(str(exc)), index_summary()
        progress(1.0)
        shown = format_report(report, "index").replace(f"{uploads}/", "")  # file names, not server paths
        return f"<pre>{text(shown)}</pre>", index_summary()

    def rate(data: gr.LikeData, request: gr.Request):
        """A thumbs up is stored at once; a thumbs down or a flag opens the form for a correction."""
        remembered = conversations.get(request.session_hash, data.index)
        if remembered is None or data.liked is None:  # a notice, not an answer; or a rating taken back
            return gr.update(visible=False), gr.update(), gr.update(), None, ""
        history, answer = remembered
        if data.liked is True:
            item = feedback.record(settings.index_dir, feedback.of_answer(answer.to_json(), "up", "web", settings, history))
            return gr.update(visible=False), gr.update(), gr.update(), None, f"Thanks: noted as helpful ({item.id})."
        flagged = [FEEDBACK_OPTIONS[data.liked]] if isinstance(data.liked, str) and FEEDBACK_OPTIONS.get(data.liked) else []
        return (gr.update(visible=True), gr.update(choices=sentence_choices(answer), value=None), flagged,
                {"position": data.index}, "")

    def correct(state, right_answer: str, right_sentence: str | None, flags: list[str], comment: str, request: gr.Request):
        remembered = conversations.get(request.session_hash, (state or {}).get("position", -1))
        if remembered is None:
            return gr.update(visible=False), "", "", "Choose 👎 on an answer first."
        history, answer = remembered
        chosen = None
        if right_sentence:
            index, doc_id = right_sentence.split("\t", 1)
            sentence = assistant.index.document_sentences(doc_id)[int(index)]
            chosen = {"doc_id": doc_id, "sentence_index": sentence.index, "text": sentence.text}
        item = feedback.record(settings.index_dir, feedback.of_answer(
            answer.to_json(), "down", "web", settings, history, correction=right_answer or "",
            correct_sentence=chosen, flags=list(flags or []), comment=comment or ""))
        return gr.update(visible=False), "", "", f"Thanks: saved as feedback {item.id}."

    def export_conversation(request: gr.Request):
        import hashlib
        import json
        import tempfile
        from datetime import datetime, timezone

        turns = conversations.of(request.session_hash)
        if not turns:
            raise gr.Error("Ask something first: there is nothing to export yet.")
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        # One folder per session, overwritten by its next export; named by a hash, as the client picks session ids.
        folder = Path(tempfile.gettempdir()) / "groundqa-exports" / hashlib.sha256(request.session_hash.encode()).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "conversation.md").write_text(conversation_markdown(turns, stamp), encoding="utf-8")
        (folder / "conversation.json").write_text(json.dumps(conversation_json(turns, stamp), ensure_ascii=False, indent=2),
                                                  encoding="utf-8")
        return [str(folder / "conversation.md"), str(folder / "conversation.json")]

    with gr.Blocks(title="groundqa") as demo:
        gr.Markdown("## groundqa: answers from your documents, every claim cited")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=460, sanitize_html=True, render_markdown=True,
                                     feedback_options=list(FEEDBACK_OPTIONS))
                question = gr.Textbox(placeholder="Ask about the documents…", show_label=False, submit_btn=True)
                gr.Examples(EXAMPLES, inputs=question)
                choices = configured_answerers(settings)
                answerer = gr.Dropdown(choices, value=settings.answerer if settings.answerer in choices else "extractive",
                                       label="Answerer", visible=len(choices) > 1)
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML('<div class="sources empty">Cited sentences appear here, highlighted in context.</div>')
                pages = gr.Radio([], label="See a cited sentence on its page", visible=False, elem_id="cited-pages")
                page_view = gr.Image(label="On the page", visible=False, interactive=False, elem_id="page-view",
                                     buttons=[])
        pending = gr.State()  # the disliked answer's chat position and flags, until the form is sent
        with gr.Group(visible=False) as correction:
            gr.Markdown("**What was wrong?** Everything here is optional; it becomes a test question for the next release.")
            right_answer = gr.Textbox(label="The right answer", placeholder="In your words")
            right_sentence = gr.Dropdown([], label="The sentence that says it", allow_custom_value=False)
            flags = gr.CheckboxGroup([(label, flag) for label, flag in FEEDBACK_FLAGS.items()], label="Flags")
            comment = gr.Textbox(label="Comment")
            send_feedback = gr.Button("Send feedback")
        thanks = gr.Markdown()
        with gr.Accordion("Export the conversation", open=False):
            export = gr.Button("Export as Markdown and JSON")
            exported = gr.File(label="Conversation", file_count="multiple", interactive=False)
        with gr.Accordion("Documents", open=False):
            summary = gr.Markdown(index_summary())
            uploads = gr.File(file_count="multiple", file_types=UPLOAD_TYPES, label=f"Add documents (up to {MAX_UPLOAD} each)")
            add = gr.Button("Add to index")
            outcome = gr.HTML()
            listed = gr.Markdown(document_list(), elem_id="document-list")
            gr.Timer(REFRESH_SECONDS).tick(lambda: (index_summary(), document_list()), None, [summary, listed])
        # A question sent while one is being answered waits its turn instead of being dropped.
        question.submit(respond, [question, chatbot, answerer], [question, chatbot, sources], trigger_mode="always_last") \
            .then(cited_pages, None, [pages, page_view])
        pages.change(show_page, [pages], [page_view])
        add.click(add_documents, [uploads], [outcome, summary])
        chatbot.like(rate, None, [correction, right_sentence, flags, pending, thanks])
        send_feedback.click(correct, [pending, right_answer, right_sentence, flags, comment],
                            [correction, right_answer, comment, thanks])
        export.click(export_conversation, None, [exported])
    return demo


def _plain(content) -> str:
    """A user turn as typed: the chat stores it escaped, as a string or a list of text parts."""
    import html

    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return html.unescape(content)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    try:
        settings = Settings.load(index_dir=args.index, vector_store=args.store)
        auth = credentials(args.host, args.insecure_open)
        if args.api:
            from qa.server import require_token

            require_token(args.host, os.environ.get("QA_API_TOKEN"))
        from qa import location
        from qa.assistant import Assistant
        from qa.ingest import ingest

        docs = args.docs or ([] if location.exists(settings) else [SAMPLE_CORPUS])
        if docs:
            where = location.describe(settings)
            print(f"Indexing {', '.join(map(str, docs))} into {where} …", file=sys.stderr)
            print(format_report(ingest(docs, settings, progress=True), where), file=sys.stderr)
        assistant = Assistant(settings)
        assistant.warm_up()
    except UserError as exc:
        print(f"app: {exc}", file=sys.stderr)
        return 1
    from qa.web import CSS

    demo = build(assistant, settings)
    # Waiting users get their place in the queue once a second: by default Gradio sends every
    # waiting user an update each time any answer starts, so with 28 waiting each answer cost 28
    # extra messages. With this and the sources sent with the last piece, 32 back-to-back users
    # got 37-41 answers/s instead of 26-30 (eval/load_web.py).
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=args.max_queue, status_update_rate=1)
    print(f"groundqa is running at http://{args.host}:{args.port}", flush=True)
    private = {"auth": auth, "css": CSS, "max_file_size": MAX_UPLOAD, "allowed_paths": [], "show_error": False,
               "blocked_paths": [str(CHECKOUT), str(Path(settings.index_dir).resolve())]}
    if args.api:  # one process: the API's routes first, the chat at / behind its password
        import gradio as gr
        import uvicorn

        from qa.server import create_app

        app = gr.mount_gradio_app(create_app(assistant, token=os.environ.get("QA_API_TOKEN")), demo, path="/",
                                  server_name=args.host, server_port=args.port, **private)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
        return 0
    demo.launch(server_name=args.host, server_port=args.port, share=False, quiet=True, **private)
    return 0


if __name__ == "__main__":
    sys.exit(main())
