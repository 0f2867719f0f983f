"""Split and embed documents as Ray Data tasks across a cluster (`qa ingest --ray`).

The contract and output are those of `qa.ingest.split_and_embed`: each document's sentences and
their vectors, in the order given. Here a pool of Ray actors, one per CPU of the cluster, each with
the encoder loaded once, splits and embeds blocks of documents; the driver rebuilds the Sentence
objects from their spans and yields documents as blocks come back, in order.

Documents travel as Arrow columns and results come back as Arrow columns (sentence ids, spans,
vectors as raw float32 bytes): no Document or Sentence is pickled, only the settings each actor
starts with.
The cluster's nodes need groundqa installed (`pip install 'groundqa[ray]'`) at the driver's version:
sentence ids and vectors must come out as a local ingest would make them.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing

import numpy as np

from qa.embedding import encoder_for
from qa.errors import UserError
from qa.sentences import split
from qa.settings import Limits, Settings
from qa.store import window_text
from qa.types import Document, Sentence

# Document text per block, and so per actor call: about 170 news sentences, a few seconds of one
# core's work. Results come back a block at a time, in order, so smaller blocks reach the caller
# sooner: on 200 BBC articles and 2 busy cores the first document came back after 9-17 s at 20,000
# characters (about a third of qa.ingest.EMBED_CHUNK) against 22-26 s at 60,000 (three runs each),
# at no clear cost in throughput (the machine was shared and noisy).
BLOCK_CHARS = 20_000
# A block whose worker dies is run again on a restarted actor this many times; a block that kills
# its worker every time (say, a document that exhausts memory) then fails the ingest instead of
# looping forever, which is what Ray Data's default (-1, unlimited) would do.
MAX_TASK_RETRIES = 3


def split_and_embed_on_ray(
    docs: list[Document],
    settings: Settings,
    encoder_name: str,
    address: str | None,
    embedded: Callable[[int], None] = lambda n: None,
) -> Iterator[tuple[list[Sentence], np.ndarray]]:
    """`qa.ingest.split_and_embed` on Ray: `encoder_name` is the model an index records
    (`Encoder.name`); `address` a cluster to connect to ("auto", "HOST:6379"; Ray Client's
    "ray://HOST:10001" is refused, Ray Data does not run through it), or None for a local Ray on
    this machine's cores. A Ray already initialized in this process is used as it is, whatever
    `address` says.

    Ray is imported and the encoder name checked here, so a missing install fails before the
    caller starts reading files; Ray itself starts when the first document is asked for.
    """
    try:
        import ray
        import ray.data  # noqa: F401 - the [data] extra: pyarrow and pandas
    except ImportError:
        raise UserError("Ingesting on Ray needs Ray Data: pip install 'groundqa[ray]'") from None
    if address and address.startswith("ray://"):
        # Ray Data's executor needs a driver on the cluster: through Ray Client it fails on a
        # missing core worker (ray-project/ray#48682, "not supported by Ray Data").
        raise UserError(f"Ray Data cannot run through Ray Client ({address}): run the ingest on a node of "
                        "the cluster with its GCS address (HOST:6379 or auto), or submit it as a Ray job.")
    encoder = encoder_for(encoder_name, settings.embedding)  # not loaded here: only its name and size
    if encoder.name != encoder_name:
        raise UserError(f"Unknown embedding model {encoder_name!r}: this version has {encoder.name!r}.")
    return _stream(docs, settings, encoder_name, encoder.dimension, address, embedded)


def _stream(docs, settings: Settings, encoder_name: str, dimension: int, address, embedded):
    if not docs:
        return
    import ray

    started = not ray.is_initialized()
    if started:
        quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
        if address is None:
            # "local": a new instance even where RAY_ADDRESS or a `ray start` on this machine
            # would otherwise make ray.init join that cluster (and refuse num_cpus).
            ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, **quiet)
        else:
            try:
                ray.init(address=address, **quiet)
            except ConnectionError as exc:
                # The last line of Ray's cause says why (no cluster there, a missing auth token…);
                # the rest is a traceback as text.
                reason = str(exc.__cause__ or exc).strip().splitlines()[-1]
                raise UserError(f"Cannot connect to the Ray cluster at {address}: {reason}") from None
    # Ray Data's INFO lines ("execution finished in …") would interleave with the caller's
    # progress bar, and it warns that its own progress bars are off, which is on purpose here.
    loggers = {logging.getLogger("ray.data"): logging.WARNING,
               logging.getLogger("ray.data._internal.progress"): logging.ERROR}
    levels = {logger: logger.level for logger in loggers}
    for logger, level in loggers.items():
        logger.setLevel(level)
    try:
        blocks = iter(_dataset(docs, settings, encoder_name).iter_batches(batch_size=None, batch_format="pyarrow"))
        # Closed explicitly: a caller that stops early (an interrupted ingest) stops Ray Data's
        # executor and its actors now, not whenever the iterator is collected.
        with closing(blocks):
            for block in blocks:
                rows = block.to_pydict()
                count = sum(len(ids) for ids in rows["ids"])
                if count:
                    embedded(count)
                for position, ids, starts, ends, vectors in zip(
                    rows["position"], rows["ids"], rows["starts"], rows["ends"], rows["vectors"]
                ):
                    doc = docs[position]
                    sentences = [  # as qa.sentences.split makes them
                        Sentence(id=id_, doc_id=doc.doc_id, index=i, start=start, end=end, text=doc.text[start:end],
                                 page=doc.page_at(start), locator=doc.locator_at(start))
                        for i, (id_, start, end) in enumerate(zip(ids, starts, ends))
                    ]
                    # Copied: frombuffer over bytes is read-only, and split_and_embed's arrays are not.
                    yield sentences, np.frombuffer(vectors, dtype=np.float32).reshape(len(sentences), dimension).copy()
    except ray.exceptions.RayError as exc:
        # An actor that cannot start (groundqa missing on a node) or a block that failed on every
        # retry: Ray's message ends with the cause; the rest is its traceback as text.
        reason = str(exc).strip().splitlines()[-1]
        raise UserError(f"The ingest on Ray failed: {reason}. The previous index is unchanged. Every node needs "
                        "groundqa installed at this version (docs/scale.md).") from None
    finally:
        # Ours to end: a local Ray holds a worker per core and a share of memory for its object
        # store, which a process that ingests once should not keep (starting one again costs a
        # few seconds, little beside an ingest). For a cluster, this only disconnects the driver;
        # the cluster keeps running.
        if started:
            ray.shutdown()
        for logger, level in levels.items():
            logger.setLevel(level)


def _dataset(docs: list[Document], settings: Settings, encoder_name: str):
    import ray
    import ray.data

    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    chars = sum(len(doc.text) for doc in docs)
    blocks = min(len(docs), max(cpus, -(-chars // BLOCK_CHARS)))
    actors = min(blocks, cpus)
    # Text as UTF-8 bytes with surrogates passed through: Arrow strings must be valid UTF-8, and
    # a document's text is kept exactly as loaded, lone surrogates included.
    items = [
        {"position": position, "doc_id": doc.doc_id, "title": _bytes(doc.title), "text": _bytes(doc.text),
         "page_starts": list(doc.page_starts)}
        for position, doc in enumerate(docs)
    ]
    dataset = ray.data.from_items(items, override_num_blocks=blocks)
    context = dataset.context  # this dataset's own copy: the process's other Ray Data work is untouched
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False  # the caller shows progress through `embedded`
    context.print_on_execution_start = False
    with warnings.catch_warnings():
        # Ray 2.60 has no named parameter for actor retries yet and warns that **ray_remote_args
        # goes in 2.64; they are still how an actor's restarts are set.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        return dataset.map_batches(
            _SplitAndEmbed,
            fn_constructor_kwargs={"encoder_name": encoder_name, "precision": settings.embedding,
                                   "limits": settings.limits, "window": settings.window,
                                   "embed_title": settings.embed_title},
            batch_size=None,  # a whole block per call: blocks are sized above
            batch_format="pyarrow",
            # All at once: each actor takes seconds to load the model, better side by side than
            # one after another as the pool grows. One per CPU as Ray counts them, although
            # encode() also starts a thread per core of its machine: each model run is
            # single-threaded (qa/embedding.py), so the surplus threads take turns, they don't spin.
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors),
            num_cpus=1,
            # An actor whose process dies (node lost, out of memory) is restarted however often
            # that happens, and the block it held is retried on it up to MAX_TASK_RETRIES times.
            max_restarts=-1,
            max_task_retries=MAX_TASK_RETRIES,
        )


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")


class _SplitAndEmbed:
    """In each Ray actor: the encoder, loaded once, splits and embeds one block of documents a call."""

    def __init__(self, encoder_name: str, precision: str, limits: Limits, window: int, embed_title: bool) -> None:
        self.encoder = encoder_for(encoder_name, precision)
        self.encoder.warm_up()
        self.limits, self.window, self.embed_title = limits, window, embed_title

    def __call__(self, block):
        import pyarrow as pa

        rows = block.to_pydict()
        per_doc, texts = [], []
        for doc_id, title, text, page_starts in zip(rows["doc_id"], rows["title"], rows["text"], rows["page_starts"]):
            doc = Document(doc_id, _text(title), _text(text), "", tuple(page_starts or ()))
            sentences = split(doc, self.limits)
            texts += [window_text(doc, sentences, i, self.window, self.embed_title) for i in range(len(sentences))]
            per_doc.append(sentences)
        vectors = self.encoder.encode(texts)
        out, cursor = [], 0
        for sentences in per_doc:
            out.append(vectors[cursor : cursor + len(sentences)].tobytes())
            cursor += len(sentences)
        return pa.table({
            "position": pa.array(rows["position"], pa.int64()),
            "ids": pa.array([[s.id for s in sentences] for sentences in per_doc], pa.list_(pa.string())),
            "starts": pa.array([[s.start for s in sentences] for sentences in per_doc], pa.list_(pa.int64())),
            "ends": pa.array([[s.end for s in sentences] for sentences in per_doc], pa.list_(pa.int64())),
            "vectors": pa.array(out, pa.large_binary()),
        })


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogatepass")
