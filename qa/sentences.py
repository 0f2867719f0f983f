"""Document text -> sentences with stable ids and exact character spans.

pysbd does the segmenting (abbreviations such as U.S. and Mr., quotes closing after the period,
numbers like $685 million). Text is first cut at line breaks, because news files put headlines,
bylines and list items ("- Category") on lines of their own without a final period. PDFs are the
exception: their lines are hard-wrapped, so only blank lines separate blocks there.

    >>> [s.text for s in split(Document("d", "", "Mr. Smith left.\\nHeadline", "d"))]
    ['Mr. Smith left.', 'Headline']
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from functools import lru_cache, partial

from qa.settings import Limits
from qa.types import Document, Sentence

_BLOCKS = re.compile(r"[^\n]+")
_PARAGRAPHS = re.compile(r"\S(?:.|\n(?![ \t]*\n))*")  # runs of text separated by blank lines
_HAS_WORD = re.compile(r"\w")


# pysbd builds regular expressions from each abbreviation and number it meets: about 2,500
# distinct patterns on the bench's 1,851-sentence slice. Python's re module keeps only 512 compiled,
# so pysbd compiled the same ones again and again (two thirds of splitting time in a profile). Its
# modules get a re of their own whose compiled patterns are kept in a larger cache: 2.8 s -> 2.2 s
# on a first pass over that slice, 1.5 s on later ones. Everything else keeps the stdlib's re.
@lru_cache(maxsize=4096)
def _compiled(pattern, flags):
    return re.compile(pattern, flags)


# The re functions pysbd 0.3 calls, each with how many of its arguments after the pattern go to
# the compiled pattern's method of the same name; the next one, if given, is the flags:
# re.sub(pattern, repl, string, count, flags) -> _compiled(pattern, flags).sub(repl, string, count)
_PATTERN_ARGUMENTS = {"sub": 3, "search": 1, "match": 1, "findall": 1, "finditer": 1, "split": 2}


def _through_cache(name: str, takes: int):
    """re.<name>, compiling its pattern through _compiled. Keyword arguments (count=, maxsplit=)
    have the same names on the pattern's method."""
    method = getattr(re.Pattern, name)

    def call(pattern, *args, flags=0, **keywords):
        if len(args) > takes:  # the flags given by position
            args, flags = args[:takes], args[takes]
        return method(_compiled(pattern, flags), *args, **keywords)

    call.__name__ = name
    return call


class _CachedRe:
    """The re functions pysbd 0.3 calls, compiling through _compiled; anything else is re's own."""

    def __init__(self) -> None:
        for name, takes in _PATTERN_ARGUMENTS.items():
            setattr(self, name, _through_cache(name, takes))

    def __getattr__(self, name):
        return getattr(re, name)


@lru_cache(maxsize=1)
def segmenter():
    import pysbd

    cached = _CachedRe()
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] == "pysbd" and getattr(module, "re", None) is re:
            module.re = cached
    return pysbd.Segmenter(language="en", clean=False)


# pysbd splits about 250,000 characters a second; a worker process is worth starting for a batch
# that takes it more than a few tenths of a second. The first documents are split here as the
# worker takes the next ones, so the first chunk to embed is ready sooner.
WORKER_FROM_CHARS = 100_000
SPLIT_HERE_CHARS = 30_000


def split_all(documents: Sequence[Document], limits: Limits = Limits()) -> Iterator[list[Sentence]]:
    """split() of each document, in order, as the caller asks for them.

    A large batch is split by a worker process that runs ahead while the caller embeds what it
    already has. Not a thread: pysbd is pure Python and holds the GIL, which the embedding threads
    need between model runs; overlapping in a thread was slower than not overlapping at all.
    """
    if sum(len(d.text) for d in documents) < WORKER_FROM_CHARS:
        yield from (split(d, limits) for d in documents)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    split_here, chars = 0, 0
    while split_here < len(documents) and chars < SPLIT_HERE_CHARS:
        chars += len(documents[split_here].text)
        split_here += 1
    segmenter()  # loaded before the fork (below), so the child needs no import lock another thread holds
    try:
        # fork, not spawn: a spawned child imports the caller's __main__ again, and a script
        # without a __name__ guard would run its ingest in there.
        worker = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                     initializer=_worker_starts, initargs=(os.getpid(),))
        ahead = worker.map(partial(split, limits=limits), documents[split_here:], chunksize=16)
    except (OSError, ValueError, ImportError):  # no fork, no process or no semaphore to spare
        yield from (split(d, limits) for d in documents)
        return
    done = split_here
    try:
        yield from (split(d, limits) for d in documents[:split_here])
        try:
            for sentences in ahead:
                yield sentences
                done += 1
        except BrokenProcessPool:  # the worker died (killed, out of memory): finish the work here
            yield from (split(d, limits) for d in documents[done:])
    finally:
        worker.shutdown(cancel_futures=True)  # a caller that stopped early leaves nothing queued


def _worker_starts(parent: int) -> None:
    """In the worker: Ctrl-C is the parent's to handle (it stops the worker itself), and a
    parent killed outright must not leave the worker waiting for work forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def exit_with_parent() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()


def split(document: Document, limits: Limits = Limits()) -> list[Sentence]:
    text = document.text
    blocks = _PARAGRAPHS if document.page_starts else _BLOCKS
    spans: list[tuple[int, int]] = []
    for block in blocks.finditer(text):
        for start, end in _pieces(block.start(), block.end(), limits.max_block_chars, text):
            spans.extend(_segment(text, start, end))
    spans = [cut for span in spans for cut in _cap(text, span, limits.max_sentence_chars)]
    seen: Counter[str] = Counter()
    sentences = []
    for start, end in spans:
        body = text[start:end]
        if not _HAS_WORD.search(body):
            continue  # stray punctuation or bullets are not worth citing
        occurrence = seen[body]
        seen[body] += 1
        sentences.append(
            Sentence(
                id=sentence_id(document.doc_id, body, occurrence),
                doc_id=document.doc_id,
                index=len(sentences),
                start=start,
                end=end,
                text=body,
                page=document.page_at(start),
                locator=document.locator_at(start),
            )
        )
    return sentences


def sentence_id(doc_id: str, text: str, occurrence: int) -> str:
    """Derived from content, so an edit elsewhere in the document leaves this id unchanged."""
    key = f"{doc_id}\x00{text}\x00{occurrence}".encode()
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def _segment(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end], located in the original so offsets are exact."""
    block = text[start:end]
    if "\n" in block:  # a hard-wrapped PDF paragraph: same length, so offsets still line up
        block = block.replace("\n", " ")
    spans = []
    cursor = 0
    for piece in segmenter().segment(block):
        piece = piece.strip()
        if not piece:
            continue
        found = block.find(piece, cursor)
        if found < 0:  # pysbd altered the text; fall back to the rest of the block as one span
            rest = block[cursor:]
            lead = len(rest) - len(rest.lstrip())
            if rest.strip():
                spans.append((start + cursor + lead, start + cursor + len(rest.rstrip())))
            break
        spans.append((start + found, start + found + len(piece)))
        cursor = found + len(piece)
    return spans


def _pieces(start: int, end: int, size: int, text: str) -> list[tuple[int, int]]:
    """Cut an over-long block at whitespace into pieces of at most `size` characters."""
    out = []
    while end - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        cut = cut if cut > start else start + size
        out.append((start, cut))
        start = cut
    out.append((start, end))
    return out


def _cap(text: str, span: tuple[int, int], size: int) -> list[tuple[int, int]]:
    start, end = span
    pieces = []
    for a, b in _pieces(start, end, size, text):
        body = text[a:b]
        lead = len(body) - len(body.lstrip())
        if body.strip():
            pieces.append((a + lead, a + len(body.rstrip())))
    return pieces
