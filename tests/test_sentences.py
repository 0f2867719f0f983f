import multiprocessing
import os
from pathlib import Path

from qa import sentences
from qa.sentences import split
from qa.settings import Limits
from qa.types import Document


def texts(text: str, pages: tuple[int, ...] = ()) -> list[str]:
    return [s.text for s in split(Document("d.txt", "", text, "d.txt", pages))]


def test_news_text_is_split_where_a_reader_would():
    text = (
        "- Category\n"
        "US to Back Ukraine’s Postwar Security\n\n"
        "Mr. Smith of the U.S. State Dept. arrived. Norway gave $685 million to the fund.\n"
        "“The pace must be accelerated,” he said. Talks went on."
    )
    assert texts(text) == [
        "- Category",
        "US to Back Ukraine’s Postwar Security",
        "Mr. Smith of the U.S. State Dept. arrived.",
        "Norway gave $685 million to the fund.",
        "“The pace must be accelerated,” he said.",
        "Talks went on.",
    ]


def test_spans_slice_the_stored_text_exactly(corpus_copy):
    for path in corpus_copy.iterdir():
        text = path.read_text(encoding="utf-8")
        sentences = split(Document(path.name, "", text, str(path)))
        assert sentences and [s.index for s in sentences] == list(range(len(sentences)))
        for s in sentences:
            assert text[s.start : s.end] == s.text


def test_ids_are_content_derived_and_stable():
    before = split(Document("d", "", "First one. Second one. Second one.", "d"))
    after = split(Document("d", "", "A new opening line.\nFirst one. Second one. Second one.", "d"))
    assert [s.id for s in after[1:]] == [s.id for s in before]
    assert len({s.id for s in before}) == 3  # a repeated sentence still gets its own id
    other_doc = split(Document("e", "", "First one.", "e"))
    assert other_doc[0].id != before[0].id


def test_hard_wrapped_pdf_lines_join_and_pages_are_kept():
    text = "The first sentence is\nwrapped here. Another one.\n\nPage two text."
    doc = Document("p.pdf", "", text, "p.pdf", (0, text.index("Page two")))
    sentences = split(doc)
    assert [s.text for s in sentences] == ["The first sentence is\nwrapped here.", "Another one.", "Page two text."]
    assert [s.page for s in sentences] == [1, 1, 2]


def test_enormous_line_is_cut_into_bounded_sentences():
    text = "word " * 200_000
    sentences = split(Document("big.txt", "", text, "big.txt"))
    assert sentences and max(len(s.text) for s in sentences) <= 1_500
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_punctuation_only_lines_are_not_sentences():
    assert texts("!!!\n---\nReal text here.") == ["Real text here."]


def _many_documents(corpus: Path) -> list[Document]:
    """Forty documents (the sample articles under several names): several of the worker's chunks."""
    articles = [path.read_text(encoding="utf-8") for path in sorted(corpus.iterdir())]
    return [Document(f"{n}.txt", "", articles[n % len(articles)], f"{n}.txt") for n in range(40)]


def test_a_worker_process_splits_large_batches_as_split_does(corpus_copy, monkeypatch):
    documents = _many_documents(corpus_copy)
    monkeypatch.setattr(sentences, "WORKER_FROM_CHARS", 1)
    monkeypatch.setattr(sentences, "SPLIT_HERE_CHARS", 1)  # all but the first document go to the worker
    pieces = sentences.split_all(documents)
    first = next(pieces)
    assert multiprocessing.active_children(), "no worker process was started"
    assert [first, *pieces] == [split(d) for d in documents]
    assert not multiprocessing.active_children()


_PARENT = os.getpid()
_SPLIT = sentences.split


def _dies_in_a_worker(document: Document, limits=Limits()):
    if os.getpid() != _PARENT:
        os._exit(1)  # as the out-of-memory killer would end it
    return _SPLIT(document, limits)


def test_a_worker_that_dies_loses_no_document(corpus_copy, monkeypatch):
    documents = _many_documents(corpus_copy)
    monkeypatch.setattr(sentences, "WORKER_FROM_CHARS", 1)
    monkeypatch.setattr(sentences, "SPLIT_HERE_CHARS", 1)
    monkeypatch.setattr(sentences, "split", _dies_in_a_worker)  # the worker dies on its first document
    assert list(sentences.split_all(documents)) == [_SPLIT(d) for d in documents]
    assert not multiprocessing.active_children()
