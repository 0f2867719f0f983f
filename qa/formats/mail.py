"""E-mail (.eml) and mailboxes (.mbox) -> one Document per message, with the stdlib's email package.

A message's text is its headers, its body (plain text, or HTML made visible) and its text
attachments; its locator names the message by subject, sender and date.
"""

from __future__ import annotations

import email
import mailbox
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from qa.formats import Builder
from qa.loaders import NoText, Skip, html_to_text
from qa.settings import Limits
from qa.types import Document

_TEXT_ATTACHMENTS = {"text/plain", "text/markdown", "text/csv", "text/html"}


def read_eml(data: bytes, doc_id: str, source: str, limits: Limits) -> tuple[list[Document], str]:
    document, note = _message(email.message_from_bytes(data, policy=policy.default), doc_id, source)
    return [document], note


def read_mbox(path: Path, doc_id: str, limits: Limits) -> tuple[list[Document], str]:
    """Every message of a mailbox; ids are the file's id and the message's 1-based position."""
    try:
        box = mailbox.mbox(path, factory=None, create=False)
        keys = box.keys()  # one pass over the file to find where each message starts
    except (OSError, mailbox.Error) as exc:
        raise Skip(f"not a readable mailbox ({exc})") from None
    documents, notes, empty = [], [], []
    for number, key in enumerate(keys, start=1):
        try:
            raw = box.get_bytes(key)
            message = email.message_from_bytes(raw, policy=policy.default)
            document, note = _message(message, f"{doc_id}#{number}", str(path))
        except Skip:
            empty.append(number)
            continue
        except Exception as exc:  # noqa: BLE001 - one malformed message must not lose the others
            notes.append(f"message {number} unreadable ({type(exc).__name__})")
            continue
        documents.append(document)
        if note:
            notes.append(f"message {number}: {note}")
    box.close()
    if empty:
        notes.append(f"{len(empty)} messages without text")
    if not documents:
        raise NoText("no messages with text in it" + (f" ({'; '.join(notes)})" if notes else ""))
    return documents, "; ".join(notes[:5]) + (f"; and {len(notes) - 5} more" if len(notes) > 5 else "")


def _message(message: EmailMessage, doc_id: str, source: str) -> tuple[Document, str]:
    subject = " ".join(str(message.get("subject", "") or "").split())
    sender = " ".join(str(message.get("from", "") or "").split())
    date = _iso_date(message.get("date"))
    where = {"message": subject or "(no subject)", "from": sender, "date": date}
    built = Builder()
    for name in ("Subject", "From", "To", "Cc", "Date"):
        value = " ".join(str(message.get(name, "") or "").split())
        if value:
            built.add(f"{name}: {value}", where)
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        built.add(_text_of(body), where)
    skipped = []
    for part in message.iter_attachments():
        name = part.get_filename() or "attachment"
        if part.get_content_type() in _TEXT_ATTACHMENTS:
            built.add(_text_of(part), {**where, "attachment": name})
        else:
            skipped.append(name)
    note = f"attachments not read (only text ones are): {', '.join(skipped)}" if skipped else ""
    return built.document(doc_id, subject, source), note


def _text_of(part) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset or broken encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    if part.get_content_type() == "text/html":
        return html_to_text(content)[1]
    return content


def _iso_date(value) -> str:
    if not value:
        return ""
    try:
        return parsedate_to_datetime(str(value)).isoformat()
    except (TypeError, ValueError):
        return str(value)
