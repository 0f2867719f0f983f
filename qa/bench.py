"""`qa bench`: ingest speed against llama-index, query latency, ANN recall, memory and cold start.

Everything compared is measured in one run, on the same documents and the same packaged model.
The text is real: the documents of ../shared/benchmarks (HotpotQA, SQuAD 2.0, CLAP NQ), repeated
under varied titles where a larger index is needed. Each title variant changes what is embedded
("title: sentence"), so the copies are near neighbours of the originals, as edited copies of
documents are in real folders, and never random vectors (on which approximate search means
nothing). The large index's embeddings are cached between runs (index/bench-cache/), so only the
first run pays for embedding it; the ingest comparison always embeds afresh.

`qa bench --scale N` is the scale bench (ScaleBench, below): the same questions answered from an
index of about N sentences (and from one of 100,000) kept in FAISS (an index folder) and in Milvus
(a Milvus Lite server process), with build times, latency, ANN recall and the answering process's
own peak memory. Only the benchmark documents are embedded for real there: its copies carry
perturbed vectors (see ScaleBench).

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from qa.files import write_atomically

HELP = "measure ingest speed (vs llama-index), query latency, ANN recall, memory and cold start"
DATASETS = ("hotpotqa", "squad2", "clapnq")
# Title suffixes of the repeated copies: copy k of a document is titled "<title> (<suffix k>)".
VARIANTS = ("notes", "summary", "revised", "overview", "draft", "archive", "digest", "reference")
COLD_START_QUESTION = "What did the US rule out?"
ROUNDS = 2  # timed runs of each ingest pipeline and model-alone encode; the fastest counts


@dataclass(frozen=True)
class Sizes:
    index_sentences: int  # the large index that queries run against
    slice_sentences: int  # the ingest comparison's slice (the same for every pipeline)
    queries: int  # timed questions against the large index
    hotpot_questions: int  # HotpotQA dev questions for recall@10 (0: all 300)
    hotpot_pool: bool  # True: all 10,787 HotpotQA paragraphs; False: only the asked ones' candidates


FULL = Sizes(200_000, 5_000, 500, 0, True)
QUICK = Sizes(100_000, 1_500, 200, 0, True)
TINY = Sizes(600, 60, 10, 8, False)  # for the test of the command itself


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="100k-sentence index, smaller slices (under 15 min on 2 cores once cached)")
    parser.add_argument("--data", type=Path, default=Path("..") / "shared" / "benchmarks",
                        help="folder of the benchmark sets (default: ../shared/benchmarks)")
    parser.add_argument("--work", type=Path, default=Path("index") / "bench",
                        help="where the bench writes its corpora and indexes (kept between runs)")
    parser.add_argument("--cache", type=Path, default=Path("index") / "bench-cache",
                        help="embedding cache of the large index")
    parser.add_argument("--scale", type=int, default=0, metavar="N",
                        help="instead: FAISS against Milvus at about N sentences (and at 100,000): build time, "
                             "answer latency, ANN recall, the answering process's memory (copies of the benchmark "
                             "text carry perturbed vectors; indexes kept in --work)")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests only


def run(args) -> int:
    from qa.errors import UserError

    sizes = TINY if args.tiny else QUICK if args.quick else FULL
    if not (args.data / "hotpotqa" / "documents.jsonl").is_file():
        raise UserError(f"No benchmark data in {args.data}: pass --data FOLDER with hotpotqa/, squad2/ and clapnq/.")
    if args.scale < 0 or (args.scale and args.quick):
        raise UserError("--scale takes a number of sentences (and no --quick).")
    args.work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    if args.scale:
        figures = ScaleBench(args.data, args.work, args.cache, SCALE_TINY if args.tiny else SCALE).all(args.scale)
        figures["bench_seconds"] = round(time.perf_counter() - began, 1)
        print(json.dumps(figures))
        return 0
    bench = Bench(args.data, args.work, args.cache, sizes)
    figures = bench.all()
    figures["bench_seconds"] = round(time.perf_counter() - began, 1)
    print(json.dumps(figures))
    return 0


def say(line: str) -> None:
    print(line, flush=True)


class Bench:
    def __init__(self, data: Path, work: Path, cache: Path, sizes: Sizes) -> None:
        from qa.embedding import offline

        offline()
        self.data, self.work, self.sizes = data, work, sizes
        self.cache = cache
        self.figures: dict = {}

    def all(self) -> dict:
        self.ingest_comparison()
        big = self.large_index()
        self.queries(big)
        self.cold_start(big)
        self.hotpot_recall()
        self.put("bench_peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return self.figures

    # -- corpora ---------------------------------------------------------------------------
    def documents(self, copies: int = 1, sets=DATASETS):
        """The benchmark documents, then copies under varied titles."""
        for k in range(copies):
            for name in sets:
                with open(self.data / name / "documents.jsonl", encoding="utf-8") as f:
                    for line in f:
                        r = json.loads(line)
                        doc = {"doc_id": str(r["doc_id"]), "title": r.get("title") or "", "text": r["text"]}
                        if k:
                            doc["doc_id"] += f"~{k}"
                            doc["title"] = f"{doc['title']} ({VARIANTS[(k - 1) % len(VARIANTS)]} {1 + (k - 1) // len(VARIANTS)})"
                        yield doc, len(r.get("sentences") or ()) or 1

    def take(self, sentences: int, copies: int = 1, step: int = 1):
        """Documents until about `sentences` sentences (the converter's count; ours differs a little)."""
        taken, total = [], 0
        for i, (doc, n) in enumerate(self.documents(copies)):
            if i % step == 0:
                taken.append(doc)
                total += n
                if total >= sentences:
                    break
        return taken

    def base_sentences(self) -> int:
        return sum(n for _, n in self.documents())

    # -- ingest against the llama-index reference --------------------------------------------
    def ingest_comparison(self) -> None:
        from qa.embedding import MiniLM, default_encoder
        from qa.ingest import ingest
        from qa.settings import Settings

        # Every 7th document, so the slice mixes the three sets' styles and lengths.
        docs = self.take(self.sizes.slice_sentences, step=7)
        folder = self.work / f"slice-{len(docs)}"
        if not folder.is_dir():
            _write_atomically_as_folder(folder, {f"{i:05d}.txt": f"{d['title']}\n{d['text']}\n" for i, d in enumerate(docs)})
        say(f"ingest comparison on {len(docs)} documents ({folder})")

        settings = Settings(index_dir=self.work / "slice-index")
        encoder = default_encoder(settings.embedding)
        fp32 = default_encoder("fp32")
        for model in (encoder, fp32):
            model.encode(["warm up"])  # model loading is left out of every pipeline's time
        # So are the libraries each pipeline imports on first use, as llama-index's are below.
        warm = self.work / "warm-up"
        if not warm.is_dir():
            _write_atomically_as_folder(warm, {"warm-up.txt": "Warm up.\nThis loads what an ingest imports.\n"})
        ingest([warm], Settings(index_dir=self.work / "warm-up-index"), encoder=encoder, rebuild=True)
        texts: list[str] = []

        def fresh_ingest():
            shutil.rmtree(settings.index_dir, ignore_errors=True)  # a fresh ingest: nothing to reuse
            return ingest([folder], settings, encoder=encoder, rebuild=True)

        # Each pipeline is timed ROUNDS times and its fastest run kept (groundqa's ingest and the
        # model alone alternate; torch and llama-index follow): on a shared machine the slowest
        # runs measure the neighbours.
        ours = embed = fp32_embed = float("inf")
        for _ in range(ROUNDS):
            report, seconds = _timed(fresh_ingest)
            ours = min(ours, seconds)
            texts = texts or _embedded_texts(settings)
            embed = min(embed, _timed(lambda: encoder.encode(texts))[1])
            if fp32 is not encoder:
                fp32_embed = min(fp32_embed, _timed(lambda: fp32.encode(texts))[1])
        sentences = report.sentences
        self.put("ingest_sentences_per_s", sentences / ours)
        say(f"  groundqa ingest: {sentences} sentences in {ours:.1f} s = {sentences / ours:.0f} sentences/s "
            f"(fastest of {ROUNDS} runs, as for every speed in this comparison)")
        self.put("embed_only_sentences_per_s", sentences / embed)
        self.put("pipeline_efficiency", (sentences / ours) / (sentences / embed), 3)
        say(f"  model alone (onnxruntime {settings.embedding}, same texts): {sentences / embed:.0f} sentences/s; "
            f"pipeline efficiency {embed / ours:.2f}")
        if fp32 is not encoder:
            self.put("onnx_fp32_embed_only_sentences_per_s", sentences / fp32_embed)
            say(f"  model alone (onnxruntime fp32, same texts): {sentences / fp32_embed:.0f} sentences/s")

        reference = MiniLM()
        reference.encode(["warm up"])
        torch_embed = min(_timed(lambda: reference.encode(texts))[1] for _ in range(ROUNDS))
        self.put("torch_embed_only_sentences_per_s", sentences / torch_embed)
        say(f"  model alone (sentence-transformers/torch fp32, same texts): {sentences / torch_embed:.0f} sentences/s")

        nodes, theirs = self.llamaindex(folder)
        self.put("llamaindex_ingest_sentences_per_s", sentences / theirs)
        self.put("llamaindex_nodes", nodes)
        self.put("ingest_speedup_vs_llamaindex", theirs / ours, 2)
        say(f"  llama-index reference: {theirs:.1f} s = {sentences / theirs:.0f} sentences/s ({nodes} chunks); "
            f"speed-up {theirs / ours:.2f}x")

    def llamaindex(self, folder: Path) -> tuple[int, float]:
        """SimpleDirectoryReader -> SentenceSplitter -> HuggingFaceEmbedding -> VectorStoreIndex
        over FaissVectorStore, persisted, with its defaults except the model (given explicitly:
        its default is OpenAI's)."""
        import faiss
        from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.vector_stores.faiss import FaissVectorStore

        from qa.embedding import DIMENSION, model_path

        embed_model = HuggingFaceEmbedding(model_name=str(model_path()), device="cpu")
        embed_model.get_text_embedding("warm up")
        persist = self.work / "llamaindex-index"

        def pipeline():
            documents = SimpleDirectoryReader(str(folder)).load_data()
            nodes = SentenceSplitter().get_nodes_from_documents(documents)
            storage = StorageContext.from_defaults(vector_store=FaissVectorStore(faiss_index=faiss.IndexFlatIP(DIMENSION)))
            index = VectorStoreIndex(nodes, storage_context=storage, embed_model=embed_model)
            index.storage_context.persist(persist_dir=str(persist))
            return len(nodes)

        runs = [_timed(pipeline) for _ in range(ROUNDS)]
        return runs[0][0], min(seconds for _, seconds in runs)

    # -- the large index ---------------------------------------------------------------------
    def large_index(self):
        """An index of at least `index_sentences` sentences, kept between runs."""
        from qa.assistant import Assistant
        from qa.embedding import default_encoder
        from qa.errors import UserError
        from qa.ingest import ingest
        from qa.settings import Settings

        target = self.sizes.index_sentences
        # The converter's sentence counts run about 3% above our splitter's: aim past the target.
        copies = max(1, math.ceil(target * 1.06 / self.base_sentences()))
        docs = self.take(target * 1.06, copies=copies)
        corpus = self.work / f"corpus-{len(docs)}.jsonl"
        if not corpus.is_file():
            write_atomically(corpus, "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
        settings = Settings()
        settings = settings.with_(index_dir=self.work / f"index-{len(docs)}-{settings.embedding}")
        assistant = Assistant(settings)
        try:
            n = assistant.index.sentence_count
        except UserError:
            encoder = CachedEncoder(default_encoder(settings.embedding), self.cache)
            say(f"building the large index from {corpus} (embeddings cached in {self.cache}) …")
            report, seconds = _timed(lambda: ingest([corpus], settings, encoder=encoder, rebuild=True, progress=True))
            say(f"  {report.sentences} sentences in {seconds:.0f} s ({encoder.fresh} embedded now, the rest cached)")
            assistant = Assistant(settings)
            n = assistant.index.sentence_count
        self.put("index_sentences", n)
        index = assistant.index
        size = sum(p.stat().st_size for p in index.path.rglob("*") if p.is_file())
        self.put("bytes_per_sentence", size / n, 1)
        self.put("index_type", index.manifest.get("index_type", "flat"))
        say(f"large index: {n} sentences, {len(index.documents)} documents, {index.manifest.get('index_type', 'flat')}, "
            f"{size / 1e6:.0f} MB on disk = {size / n:.0f} bytes/sentence")
        return assistant

    # -- queries -----------------------------------------------------------------------------
    def questions(self, limit: int) -> list[str]:
        out = []
        for name in DATASETS:
            with open(self.data / name / "questions.jsonl", encoding="utf-8") as f:
                out += [json.loads(line)["question"] for line in f]
        step = max(1, len(out) // limit)
        return out[::step][:limit]

    def queries(self, assistant) -> None:
        import numpy as np

        questions = self.questions(self.sizes.queries)
        assistant.warm_up()  # as every front end starts; the cold start is measured apart
        times, parts = [], {}
        for q in questions:
            answer = assistant.ask(q)
            times.append(answer.timings_ms["total"])
            for stage, ms in answer.timings_ms.items():
                parts.setdefault(stage, []).append(ms)
        put_latency(self.figures, "query", times)
        self.put("query_stage_p50_ms", {s: round(float(np.median(v)), 1) for s, v in parts.items() if s != "total"})
        say(f"end-to-end answers ({len(questions)} questions, extractive answerer): p50 {self.figures['query_p50_ms']} ms "
            f"{self.figures['query_p50_ms_ci95']}, p95 {self.figures['query_p95_ms']} ms {self.figures['query_p95_ms_ci95']}; "
            f"median by stage {self.figures['query_stage_p50_ms']}")

        index = assistant.index
        vectors = assistant.encoder.encode(questions)
        exact = np.argsort(-(vectors @ index.vectors_at(slice(None)).T), axis=1)[:, :10]
        if str(index.manifest.get("index_type", "flat")).startswith("flat"):
            # The store searched exactly at this size: measure the HNSW it would use directly.
            from qa.vectors import FAISS_HNSW_TYPE, hnsw_index

            approx = hnsw_index(index.vectors).search(vectors, 10)[1]
            source = f"faiss {FAISS_HNSW_TYPE} built by the bench (the index searches exactly)"
        else:
            approx = [index.dense(v, 10)[0] for v in vectors]
            source = f"the index's own search ({index.manifest.get('index_type')})"
        put_recall(self.figures, "ann_recall_at_10", [set(map(int, a)) for a in approx], [set(map(int, e)) for e in exact])
        self.put("ann_source", source)
        say(f"ANN recall@10 against exact search: {self.figures['ann_recall_at_10']:.4f} "
            f"{self.figures['ann_recall_at_10_ci95']} ({source})")

    def cold_start(self, assistant) -> None:
        """A new process answering one question from the large index, three times (median)."""
        # The child reports its own peak (VmHWM): a parent's rusage would count the memory the
        # child inherited at fork from this large bench process.
        code = (
            "import sys; from qa.cli import main; code = main(sys.argv[1:]); "
            "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')), file=sys.stderr); "
            "sys.exit(code)"
        )
        command = [sys.executable, "-c", code, "ask", COLD_START_QUESTION, "--index", str(assistant.settings.index_dir)]
        times, peaks = [], []
        for _ in range(3):
            began = time.perf_counter()
            child = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")
            times.append(time.perf_counter() - began)
            error = child.stderr.strip()
            if child.returncode:
                self.put("cold_start_s", None)
                self.put("cold_start_error", error.splitlines()[-1] if error else f"exit status {child.returncode}")
                say(f"cold start: `qa ask` failed: {self.figures['cold_start_error']}")
                return
            peaks.append(int(error.splitlines()[-1].split()[1]) / 1024)  # "VmHWM:  123456 kB"
        self.put("cold_start_s", statistics.median(times), 2)
        self.put("peak_rss_mb", max(peaks), 1)
        say(f"cold start (new `qa ask` process to printed answer, {self.figures['index_sentences']} sentences): "
            f"median {self.figures['cold_start_s']} s of {[round(t, 2) for t in times]}; "
            f"its peak RSS {self.figures['peak_rss_mb']} MB")

    # -- retrieval quality -------------------------------------------------------------------
    def hotpot_recall(self) -> None:
        """Recall@10 of the gold sentences of HotpotQA dev in the open setting (eval/retrieval.py),
        with the configured encoder and, beside it, the fp32 model's (the recall to keep)."""
        from qa.embedding import default_encoder
        from qa.ingest import ingest
        from qa.settings import Settings

        with open(self.data / "hotpotqa" / "questions.jsonl", encoding="utf-8") as f:
            questions = [q for line in f if (q := json.loads(line)).get("split") == "dev"]
        questions = questions[: self.sizes.hotpot_questions or None]
        if self.sizes.hotpot_pool:
            pool = None
        else:
            pool = {str(d) for q in questions for d in q.get("candidate_doc_ids") or ()}
        docs = [d for d, _ in self.documents(sets=("hotpotqa",)) if pool is None or d["doc_id"] in pool]
        corpus = self.work / f"hotpotqa-{len(docs)}.jsonl"
        if not corpus.is_file():
            write_atomically(corpus, "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
        configured = Settings().embedding
        for precision in dict.fromkeys((configured, "fp32")):
            settings = Settings(index_dir=self.work / f"hotpotqa-index-{len(docs)}-{precision}", embedding=precision)
            encoder = CachedEncoder(default_encoder(precision), self.cache)
            ingest([corpus], settings, encoder=encoder)  # unchanged documents cost only a check
            out = recall_at_k(settings, questions, 10)
            suffix = "" if precision == configured else f"_{precision}"
            self.put(f"hotpotqa_dev_recall_at_10{suffix}", out["hybrid"], 4)
            self.put(f"hotpotqa_dev_dense_recall_at_10{suffix}", out["dense"], 4)
            say(f"HotpotQA dev recall@10 ({len(questions)} questions, {len(docs)} paragraphs, {precision} documents, fp32 questions): "
                f"hybrid {out['hybrid']:.4f}, dense {out['dense']:.4f}")

    def put(self, key: str, value, digits: int = 1) -> None:
        self.figures[key] = round(value, digits) if isinstance(value, float) else value


def recall_at_k(settings, questions: list[dict], k: int) -> dict[str, float]:
    """Retrieval recall@k of the gold supporting sentences, hybrid and dense, with questions
    embedded as the assistant embeds them."""
    from qa.assistant import Assistant
    from qa.metrics import retrieval_recall
    from qa.retrieve import Retriever

    assistant = Assistant(settings)
    index = assistant.index
    return {
        mode: retrieval_recall(index, Retriever(index, assistant.encoder, settings.with_(retrieval=mode)), questions, k)
        for mode in ("hybrid", "dense")
    }


class CachedEncoder:
    """An encoder's vectors, remembered on disk by text, for the bench's large index only.

    Stored as float16, which is what an index keeps anyway. Saved after every chunk, so an
    interrupted first run keeps what it embedded.
    """

    CHUNK = 4_096

    def __init__(self, base, folder: Path) -> None:
        import numpy as np

        self.base = base
        self.name, self.dimension = base.name, base.dimension
        self.folder = folder / hashlib.sha256(f"{type(base).__name__}\x00{base.name}".encode()).hexdigest()[:16]
        self.fresh = 0
        keys_file, vectors_file = self.folder / "keys.npy", self.folder / "vectors.npy"
        if keys_file.is_file() and vectors_file.is_file():
            self.keys = np.load(keys_file, allow_pickle=False)
            self.vectors = np.load(vectors_file, allow_pickle=False)
        else:
            self.keys = np.zeros(0, dtype="S20")
            self.vectors = np.zeros((0, base.dimension), dtype=np.float16)
        # numpy's bytes dtype drops trailing NUL bytes on the way out, and a SHA-1 digest ends in
        # one about once in 256 texts: pad them back, or those texts would never be found again.
        self.rows = {key.ljust(20, b"\0"): row for row, key in enumerate(self.keys.tolist())}

    def encode(self, texts: list[str], batch_size: int = 64):
        import numpy as np

        keys = [hashlib.sha1(t.encode("utf-8", errors="surrogatepass")).digest() for t in texts]
        missing = list({k: t for k, t in zip(keys, texts) if k not in self.rows}.items())
        for start in range(0, len(missing), self.CHUNK):
            chunk = missing[start : start + self.CHUNK]
            fresh = self.base.encode([t for _, t in chunk], batch_size=batch_size).astype(np.float16)
            for k, _ in chunk:
                self.rows[k] = len(self.rows)
            self.keys = np.concatenate([self.keys, np.array([k for k, _ in chunk], dtype="S20")])
            self.vectors = np.concatenate([self.vectors, fresh])
            self.fresh += len(chunk)
            self.save()
        rows = np.fromiter((self.rows[k] for k in keys), dtype=np.int64, count=len(keys))
        return self.vectors[rows].astype(np.float32)

    def save(self) -> None:
        import numpy as np

        self.folder.mkdir(parents=True, exist_ok=True)
        for name, array in (("keys.npy", self.keys), ("vectors.npy", self.vectors)):
            tmp = self.folder / f".{name}.tmp"
            with open(tmp, "wb") as f:
                np.save(f, array, allow_pickle=False)
            os.replace(tmp, self.folder / name)


# -- qa bench --scale N ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ScaleSizes:
    reference: int  # the smaller index measured beside N (the "_at_100k" figures)
    queries: int  # timed questions per store and size
    originals: int  # sentences of benchmark text embedded for real (0: every benchmark document)
    calibration: int  # sentences embedded again under a title variant, to size the copies' noise
    ann_from: int  # HNSW from this many sentences on in both stores (Settings.ann_from)


SCALE = ScaleSizes(100_000, 200, 0, 512, 100_000)
SCALE_TINY = ScaleSizes(1_000, 4, 600, 32, 1_000)  # for the test of the command itself
SCALE_SEED = 14  # the copies' noise: copy k draws from default_rng([SCALE_SEED, k])
SCALE_CHUNK = 65_536  # rows of float32 vectors at a time in the exact search (96 MB)
ANSWERING = "import sys; from qa.bench import answer_in_child; answer_in_child(*sys.argv[1:])"
# `milvus-lite server`, stopped by SIGINT (it then finishes its background work and closes its
# data). Python leaves SIGINT ignored when it starts ignored (a background job's children): undone.
LITE_SERVER = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
               "from milvus_lite.cmdline import main; sys.exit(main())")


class ScaleBench:
    """`qa bench --scale N`: the same questions answered from FAISS and from Milvus at N sentences.

    The index holds the benchmark documents (split once, embedded once through CachedEncoder), then
    copies of them under title variants, as the large index of `qa bench` does, until about N
    sentences. Embedding a million texts would take about 40 minutes on 2 cores, so the copies are
    not embedded: **each copy's vectors are its original's plus seeded Gaussian noise, renormalised**
    (perturbed copies). The noise is sized so that a copy sits as far from its original as a real
    title variant does: `calibration` sentences are embedded again under a variant title, and the
    per-dimension sigma is chosen so that the expected cosine to the original, 1/sqrt(1 + d sigma^2),
    equals their median cosine. So copies are near neighbours, never duplicates; but the noise is
    isotropic where a real re-embedding's difference is not, and the copies' text (and so BM25) is
    their original's. Copy k of a document has doc_id "<doc_id>~k", the variant title, and sentence
    ids derived as qa/sentences.py derives them (from the copy's doc_id, text and occurrence).

    The Index is built in memory and written by qa.store.write (an index folder: FAISS HNSW) and by
    qa.milvus.write into a Milvus Lite server process (`milvus-lite server`), both kept
    under --work between runs. Each store is then measured from a new process that only answers,
    which reports its own peak RSS (VmHWM): with Milvus that process holds the client, the models
    and bounded caches, and the engine's memory is the server's (reported apart). ANN recall@10 is
    each store's own dense search against exact search over the same (float16) vectors.
    """

    def __init__(self, data: Path, work: Path, cache: Path, sizes: ScaleSizes) -> None:
        from qa.embedding import default_encoder, offline
        from qa.settings import Settings

        offline()
        self.data, self.work, self.cache, self.sizes = data, work, cache, sizes
        self.settings = Settings(ann_from=sizes.ann_from)
        self.encoder = CachedEncoder(default_encoder(self.settings.embedding), cache)
        self.figures: dict = {}
        self._originals = None
        self._sigma: float | None = None

    def all(self, n: int) -> dict:
        from qa.embedding import default_encoder

        reference = min(self.sizes.reference, n)
        questions = Bench(self.data, self.work, self.cache, TINY).questions(self.sizes.queries)
        # Embedded as the assistant embeds questions (fp32), for the recall figures.
        query_vectors = default_encoder("fp32").encode(questions)
        measured = {size: self.measure(size, questions, query_vectors) for size in dict.fromkeys((reference, n))}
        out = {"sentences": measured[n]["sentences"], "documents": measured[n]["documents"],
               "reference_sentences": measured[reference]["sentences"], "queries": len(questions)}
        for key, value in measured[n].items():
            out.setdefault(key, value)
        for key in ("faiss_query_p50_ms", "faiss_query_p95_ms", "faiss_ann_recall_at_10", "faiss_answer_rss_mb",
                    "milvus_query_p50_ms", "milvus_query_p95_ms", "milvus_recall_at_10", "milvus_answer_rss_mb",
                    "milvus_server_rss_mb", "faiss_build_s", "milvus_build_s"):
            out[f"{key}_at_100k"] = measured[reference][key]
            if f"{key}_ci95" in measured[reference]:
                out[f"{key}_ci95_at_100k"] = measured[reference][f"{key}_ci95"]
        out["perturbed_copies"] = True
        out["bench_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        return out

    # -- one size ----------------------------------------------------------------------------
    def measure(self, n: int, questions: list[str], query_vectors) -> dict:
        import numpy as np

        folder, server, record = self.built(n)
        figures = dict(record)
        gen = folder / (folder / "CURRENT").read_text().strip()
        exact_rows = exact_top(np.load(gen / "vectors.npy", mmap_mode="r"), query_vectors, 10)
        ids = sentence_ids(gen)
        exact = [{ids[r] for r in rows} for rows in exact_rows]
        try:
            answered = self.answering("store", server.uri, questions)
            self.put_answers(figures, "milvus", answered)
            found = self.milvus_dense(server.uri, questions, query_vectors)
            put_recall(figures, "milvus_recall_at_10", found, exact)
        finally:
            figures["milvus_server_rss_mb"] = round(server.stop()[0], 1)
        say(f"  milvus at {figures['sentences']} sentences: answers p50 {figures['milvus_query_p50_ms']} ms, "
            f"p95 {figures['milvus_query_p95_ms']} ms (by stage {figures['milvus_stage_p50_ms']}); dense recall@10 "
            f"{figures['milvus_recall_at_10']}; answering process peak RSS {figures['milvus_answer_rss_mb']} MB, "
            f"Milvus Lite server's {figures['milvus_server_rss_mb']} MB")

        answered = self.answering("index", str(folder), questions)
        self.put_answers(figures, "faiss", answered)
        from qa import vectors as vector_stores

        searcher = vector_stores.searcher(np.load(gen / "vectors.npy", mmap_mode="r"), gen)  # what Index.dense uses
        found = [{ids[int(r)] for r in searcher.search(v, 10)[0]} for v in query_vectors]
        put_recall(figures, "faiss_ann_recall_at_10", found, exact)
        del searcher
        say(f"  faiss at {figures['sentences']} sentences: answers p50 {figures['faiss_query_p50_ms']} ms, "
            f"p95 {figures['faiss_query_p95_ms']} ms (by stage {figures['faiss_stage_p50_ms']}); ANN recall@10 "
            f"{figures['faiss_ann_recall_at_10']}; answering process peak RSS {figures['faiss_answer_rss_mb']} MB")
        return figures

    def put_answers(self, figures: dict, store: str, answered: dict) -> None:
        times = answered["times_ms"]
        put_latency(figures, f"{store}_query", times)
        figures[f"{store}_stage_p50_ms"] = answered["stage_p50_ms"]
        figures[f"{store}_open_s"] = round(answered["open_s"], 2)
        figures[f"{store}_answer_rss_mb"] = round(answered["vm_hwm_kb"] / 1024, 1)
        # Questions whose answering raised are left out of the times, and counted here.
        figures[f"{store}_answer_errors"] = len(answered["errors"])
        if answered["errors"]:
            figures[f"{store}_first_error"] = answered["errors"][0]
            say(f"  {store}: {len(answered['errors'])} of {len(answered['errors']) + len(times)} questions failed, "
                f"e.g. {answered['errors'][0]}")

    def answering(self, flag: str, where: str, questions: list[str]) -> dict:
        """Timed answers from a new process that does nothing else; it reports its own peak RSS."""
        path = self.work / "scale-questions.json"
        write_atomically(path, json.dumps(questions))
        child = subprocess.run([sys.executable, "-c", ANSWERING, flag, where, str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
        if child.returncode:
            raise RuntimeError(f"the answering process failed: {child.stderr.strip()[-2000:]}")
        return json.loads(child.stdout.strip().splitlines()[-1])

    def milvus_dense(self, uri: str, questions: list[str], query_vectors) -> list[set[str]]:
        """The top 10 sentence ids of Milvus's dense search alone, as MilvusIndex.search runs it."""
        from qa import location
        from qa.embedding import model_queried_by

        settings = self.settings.with_(vector_store=uri, retrieval="dense")
        model = model_queried_by(self.encoder.base, location.recorded_model(settings))
        index = location.open_live(settings, model, self.encoder.dimension)
        return [{h.sentence.id for h in index.search(q, v, settings, None, 10)} for q, v in zip(questions, query_vectors)]

    # -- building --------------------------------------------------------------------------
    def built(self, n: int) -> tuple[Path, LiteServer, dict]:
        """The index folder and a running Milvus Lite server holding the same index of about n
        sentences; built unless kept from an earlier run."""
        from qa import milvus, store

        name = f"scale-{n}" + (f"-of-{self.sizes.originals}" if self.sizes.originals else "") + f"-{self.settings.embedding}"
        folder, lite, record_file = self.work / f"{name}-faiss", self.work / f"{name}.milvus", self.work / f"{name}.json"
        record = json.loads(record_file.read_text()) if record_file.is_file() else {}
        faiss_ready = "faiss_build_s" in record and self.readable(self.settings.with_(index_dir=folder))
        server = LiteServer(lite, self.work / f"{name}.milvus.log")
        record["milvus_server_start_s"] = round(server.start(), 2)
        ready = faiss_ready and "milvus_build_s" in record and self.readable(self.settings.with_(vector_store=server.uri))
        if ready:
            say(f"scale index of {record['sentences']} sentences kept from an earlier run ({folder}, {lite}); "
                f"built then in {record['faiss_build_s']} s (faiss) and {record['milvus_build_s']} s (milvus)")
            record["builds_cached"] = True
            return folder, server, record
        try:
            index = None
            if not faiss_ready:
                for key in [k for k in record if k != "milvus_server_start_s"]:
                    del record[key]
                _, prepared = _timed(self.originals)  # split and embedded once a run (through the cache)
                index, seconds = _timed(lambda: self.assemble(n))
                record.update(index.manifest["bench_scale"], sentences=len(index.sentences),
                              documents=len(index.documents), originals_s=round(prepared, 1),
                              assemble_s=round(seconds, 1))
                say(f"scale index: {len(index.sentences)} sentences, {len(index.documents)} documents assembled in "
                    f"{seconds:.0f} s ({record['originals_sentences']} embedded originals and "
                    f"{record['copies']} perturbed copies, noise sigma {record['noise_sigma']})")
                say(f"  writing the index folder (FAISS HNSW, BM25) to {folder} …")
                _, seconds = _timed(lambda: store.write(index, self.settings.with_(index_dir=folder)))
                record["faiss_build_s"] = round(seconds, 1)
                say(f"  faiss: written in {seconds:.0f} s")
                write_atomically(record_file, json.dumps(record, indent=2))
            else:
                model = json.loads((folder / (folder / "CURRENT").read_text().strip() / "manifest.json").read_text())["model"]
                index = store.open_index(folder, model, self.encoder.dimension, self.settings.index_fingerprint(model))
            say(f"  writing the same index to Milvus Lite ({lite}, a server process) …")
            written = _Progress(len(index.sentences), "  milvus: written")
            _, seconds = _timed(lambda: milvus.write(index, milvus.target_of(server.uri), self.settings.ann_from, written))
            index = None  # the parent holds nothing of it while the stores are measured
            # milvus.write returns once its rows are flushed; the engine compacts and indexes the
            # flushed segments in the background. Stopping the server waits for that work.
            _, drained = server.stop()
            record.update(milvus_write_s=round(seconds, 1), milvus_background_s=round(drained, 1),
                          milvus_build_s=round(seconds + drained, 1), builds_cached=False)
            say(f"  milvus: written in {seconds:.0f} s, then {drained:.0f} s of the engine's own compaction and "
                f"indexing (stopping the server waits for it)")
            record["milvus_server_start_s"] = round(server.start(), 2)
            write_atomically(record_file, json.dumps(record, indent=2))
        except BaseException:
            server.stop()
            raise
        return folder, server, record

    def readable(self, settings) -> bool:
        """Whether a kept index is there and one this version reads (its manifest checked; for
        Milvus, opened), so a change of format or layout since it was built rebuilds it."""
        from qa import location, store
        from qa.errors import UserError

        try:
            model = location.recorded_model(settings)
            if model is None:
                return False
            if location.milvus.target_of(settings.vector_store):
                location.open_live(settings, model, self.encoder.dimension)
            else:
                folder = settings.index_dir / (settings.index_dir / "CURRENT").read_text().strip()
                store.check_manifest(json.loads((folder / "manifest.json").read_text()), str(folder), model,
                                     self.encoder.dimension, settings.index_fingerprint(model), "")
        except (UserError, OSError, ValueError):
            return False
        return True

    def originals(self):
        """The benchmark documents split once, their sentences' occurrence numbers (for ids) and
        their embeddings (through the cache)."""
        if self._originals is not None:
            return self._originals
        import numpy as np

        from qa.ingest import content_hash
        from qa.sentences import split_all
        from qa.store import window_text
        from qa.types import Document

        docs: list[Document] = []
        seen, counted = set(), 0
        for name in DATASETS:
            path = self.data / name / "documents.jsonl"
            with open(path, encoding="utf-8") as f:
                for line in f:
                    r = json.loads(line)
                    doc = Document(str(r["doc_id"]), str(r.get("title") or ""), r["text"], str(path))
                    digest = content_hash(doc)
                    if not doc.text.strip() or doc.doc_id in seen or digest in seen:
                        continue  # as an ingest skips them
                    seen |= {doc.doc_id, digest}
                    docs.append(doc)
                    counted += len(r.get("sentences") or ()) or 1
                    if self.sizes.originals and counted >= self.sizes.originals:
                        break
            if self.sizes.originals and counted >= self.sizes.originals:
                break
        say(f"splitting {len(docs)} benchmark documents …")
        split = [(doc, sentences) for doc, sentences in zip(docs, split_all(docs, self.settings.limits)) if sentences]
        texts = [window_text(doc, sentences, i, self.settings.window, self.settings.embed_title)
                 for doc, sentences in split for i in range(len(sentences))]
        say(f"embedding their {len(texts)} sentences (cached in {self.cache}) …")
        began, parts = time.perf_counter(), []
        for start in range(0, len(texts), 8_192):
            parts.append(self.encoder.encode(texts[start : start + 8_192]))
            say(f"  {start + len(parts[-1])} of {len(texts)} ({self.encoder.fresh} embedded now) in "
                f"{time.perf_counter() - began:.0f} s")
        vectors = np.concatenate(parts)
        occurrences = []
        for _, sentences in split:
            count: dict[str, int] = {}
            numbers = []
            for s in sentences:
                numbers.append(count.get(s.text, 0))
                count[s.text] = numbers[-1] + 1
            occurrences.append(numbers)
        self._originals = (split, occurrences, vectors)
        return self._originals

    def noise_sigma(self) -> float:
        """Per-dimension sigma that puts a copy as far from its original as a real title variant is."""
        if self._sigma is not None:
            return self._sigma
        import numpy as np

        from qa.store import window_text

        split, _, vectors = self.originals()
        places = [(d, i) for d, (_, sentences) in enumerate(split) for i in range(len(sentences))]
        rows = np.linspace(0, len(places) - 1, min(self.sizes.calibration, len(places))).astype(int)
        texts = []
        for j, row in enumerate(rows):
            d, i = places[row]
            doc, sentences = split[d]
            variant = replace(doc, title=f"{doc.title} ({VARIANTS[j % len(VARIANTS)]} 1)")
            texts.append(window_text(variant, sentences, i, self.settings.window, self.settings.embed_title))
        again = _unit(self.encoder.encode(texts))
        cosines = np.sum(again * _unit(vectors[rows]), axis=1)
        median = float(np.median(cosines))
        dimension = vectors.shape[1]
        self._sigma = math.sqrt(max(1 / min(median, 0.9999) ** 2 - 1, 0) / dimension)
        self.figures.update(title_variant_cosine_median=round(median, 4))
        say(f"copies' noise: {len(texts)} sentences embedded again under a title variant sit at a median cosine "
            f"{median:.4f} from their originals; sigma {self._sigma:.5f} a dimension gives that expected cosine")
        return self._sigma

    def assemble(self, n: int):
        """The Index of the originals and then perturbed copies, until at least n sentences."""
        import numpy as np

        from qa.ingest import content_hash
        from qa.sentences import sentence_id
        from qa.store import Index, StoredDocument
        from qa.types import Sentence

        split, occurrences, base = self.originals()
        sigma = self.noise_sigma()
        documents, sentences, parts = {}, [], []
        copy = 0
        while len(sentences) < n:
            first = len(sentences)
            for (doc, doc_sentences), numbers in zip(split, occurrences):
                if copy:
                    doc_id = f"{doc.doc_id}~{copy}"
                    title = f"{doc.title} ({VARIANTS[(copy - 1) % len(VARIANTS)]} {1 + (copy - 1) // len(VARIANTS)})"
                    doc = replace(doc, doc_id=doc_id, title=title)
                    doc_sentences = [Sentence(sentence_id(doc_id, s.text, o), doc_id, s.index, s.start, s.end, s.text,
                                              s.page, s.locator) for s, o in zip(doc_sentences, numbers)]
                documents[doc.doc_id] = StoredDocument(doc, str(self.data), content_hash(doc), len(sentences),
                                                       len(doc_sentences))
                sentences.extend(doc_sentences)
                if len(sentences) >= n:
                    break
            rows = base[: len(sentences) - first]
            if copy:
                noise = np.random.default_rng([SCALE_SEED, copy]).standard_normal(rows.shape, dtype=np.float32)
                rows = _unit(rows + sigma * noise)
            parts.append(rows.astype(np.float16))
            copy += 1
        manifest = {
            "model": self.encoder.name,
            "dimension": self.encoder.dimension,
            "fingerprint": self.settings.index_fingerprint(self.encoder.name),
            "settings": {"window": self.settings.window, "embed_title": self.settings.embed_title},
            "bench_scale": {"originals_sentences": len(base), "copies": copy - 1, "noise_sigma": round(sigma, 6),
                            "noise_seed": SCALE_SEED, **self.figures},
        }
        return Index(manifest=manifest, documents=documents, sentences=sentences, vectors=np.concatenate(parts))


class LiteServer:
    """Milvus Lite as a process of its own (`milvus-lite server`), so that a process
    answering from it holds only the client; started and stopped by the scale bench."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir, self.log = data_dir, log
        self.process: subprocess.Popen | None = None
        self.uri = ""

    def start(self, timeout: float = 900) -> float:
        """Start the server and wait until it listens; return how long that took (it opens its data first)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        began = time.perf_counter()
        with open(self.log, "a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LITE_SERVER, "server", "--data-dir", str(self.data_dir),
                 "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        while time.perf_counter() - began < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Milvus Lite server stopped (exit status {self.process.returncode}); see {self.log}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                self.uri = f"milvus://127.0.0.1:{port}"
                return time.perf_counter() - began
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the Milvus Lite server did not listen within {timeout:.0f} s; see {self.log}")

    def stop(self, timeout: float = 3_600) -> tuple[float, float]:
        """Stop it as Ctrl-C does (it finishes its background compaction and indexing first);
        return its peak RSS in MB and how long stopping took."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return 0.0, 0.0
        peak = _vm_hwm_kb(process.pid) / 1024
        began = time.perf_counter()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return peak, time.perf_counter() - began


class _Progress:
    """Milvus's write progress: a line each tenth, with the rate so far."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done, self.said = total, label, 0, 0
        self.began = time.perf_counter()

    def __call__(self, count: int) -> None:
        self.done += count
        if self.done * 10 // max(self.total, 1) > self.said or self.done == self.total:
            self.said = self.done * 10 // max(self.total, 1)
            seconds = time.perf_counter() - self.began
            say(f"{self.label} {self.done} of {self.total} sentences in {seconds:.0f} s ({self.done / seconds:.0f}/s)")


def answer_in_child(flag: str, where: str, questions_file: str) -> None:
    """In the answering process: open the index as a front end does (`--index` folder or
    `--store` URI), answer every question, print the times and this process's peak RSS."""
    import numpy as np

    from qa.assistant import Assistant
    from qa.settings import Settings

    settings = Settings(index_dir=Path(where)) if flag == "index" else Settings(vector_store=where)
    questions = json.loads(Path(questions_file).read_text())
    assistant = Assistant(settings)
    began = time.perf_counter()
    assistant.search(questions[0])  # opens the index (in Milvus: loads the collections); untimed
    opened = time.perf_counter() - began
    times, stages, errors = [], {}, []
    for q in questions:
        try:
            answer = assistant.ask(q)
        except Exception as exc:  # noqa: BLE001 - counted and reported: the figures say what failed
            errors.append(f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
            continue
        times.append(answer.timings_ms["total"])
        for stage, ms in answer.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    print(json.dumps({"times_ms": times, "open_s": opened, "vm_hwm_kb": _vm_hwm_kb("self"), "errors": errors,
                      "stage_p50_ms": {s: round(float(np.median(v)), 1) for s, v in stages.items() if s != "total"}}))


def exact_top(vectors, queries, k: int):
    """The rows of the k best cosines for each query, by brute force over (memory-mapped) vectors."""
    import numpy as np

    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), SCALE_CHUNK):
        scores = queries @ np.asarray(vectors[start : start + SCALE_CHUNK], dtype=np.float32).T
        scores = np.concatenate([best_scores, scores], axis=1)
        rows = np.concatenate([best_rows, np.broadcast_to(np.arange(start, start + scores.shape[1] - best_rows.shape[1]),
                                                          (len(queries), scores.shape[1] - best_rows.shape[1]))], axis=1)
        keep = np.argsort(-scores, axis=1)[:, :k]
        best_scores, best_rows = np.take_along_axis(scores, keep, 1), np.take_along_axis(rows, keep, 1)
    return best_rows


def sentence_ids(generation: Path) -> list[str]:
    """Each row's sentence id, from an index folder's sentences.jsonl."""
    with open(generation / "sentences.jsonl", encoding="utf-8") as f:
        return [json.loads(line)[0] for line in f]


def put_latency(figures: dict, prefix: str, times: list[float]) -> None:
    """p50 and p95 of the answer times (ms), each with its bootstrap interval."""
    import numpy as np

    for q in (50, 95):
        figures[f"{prefix}_p{q}_ms"] = round(float(np.percentile(times, q)), 1)
        figures[f"{prefix}_p{q}_ms_ci95"] = interval(times, lambda rows, q=q: np.percentile(rows, q, axis=1), 1)


def put_recall(figures: dict, key: str, found: list[set], exact: list[set]) -> None:
    """Mean recall of `exact` in `found` over the questions, with its bootstrap interval."""
    recalls = [len(f & e) / len(e) for f, e in zip(found, exact)]
    figures[key] = round(statistics.mean(recalls), 4)
    figures[f"{key}_ci95"] = interval(recalls, lambda rows: rows.mean(axis=1), 4)


def interval(values: list[float], statistic, digits: int) -> list[float] | None:
    """The 95% bootstrap interval of a statistic of per-question values (qa.metrics.bootstrap's
    seeded resamples): `statistic` maps a (rounds, n) array of values to one value per round."""
    import numpy as np

    from qa.metrics import bootstrap

    values = np.asarray(values, dtype=float)
    bounds = bootstrap(len(values), {"v": lambda rows: statistic(values[rows])})["v"]
    return None if bounds is None else [round(b, digits) for b in bounds]


def _unit(vectors):
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _vm_hwm_kb(pid) -> int:
    """A process's peak resident memory (VmHWM), in kB."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        return int(next(line for line in f if line.startswith("VmHWM")).split()[1])


# -- helpers ------------------------------------------------------------------------------------
def _timed(work):
    began = time.perf_counter()
    result = work()
    return result, time.perf_counter() - began


def _embedded_texts(settings) -> list[str]:
    """What the ingest embedded for each sentence of the index at `settings.index_dir`."""
    from qa.assistant import Assistant
    from qa.store import window_text

    index = Assistant(settings).index
    texts = []
    for doc_id, stored in index.documents.items():
        sentences = index.document_sentences(doc_id)
        texts += [window_text(stored.document, sentences, i, settings.window, settings.embed_title) for i in range(len(sentences))]
    return texts


def _write_atomically_as_folder(folder: Path, files: dict[str, str]) -> None:
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, text in files.items():
        (tmp / name).write_text(text, encoding="utf-8")
    os.replace(tmp, folder)
