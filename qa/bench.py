"""`qa bench`: ingest speed against llama-index, query latency, ANN recall, memory and cold start.

Everything compared is measured in one run, on the same documents and the same packaged model.
The text is real: the documents of ../shared/benchmarks (HotpotQA, SQuAD 2.0, CLAP NQ), repeated
under varied titles where a larger index is needed. Each title variant changes what is embedded
("title: sentence"), so the copies are near neighbours of the originals, as edited copies of
documents are in real folders, and never random vectors (on which approximate search means
nothing). The large index's embeddings are cached between runs (index/bench-cache/), so only the
first run pays for embedding it; the ingest comparison always embeds afresh.

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
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
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
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests only


def run(args) -> int:
    from qa.errors import UserError

    sizes = TINY if args.tiny else QUICK if args.quick else FULL
    if not (args.data / "hotpotqa" / "documents.jsonl").is_file():
        raise UserError(f"No benchmark data in {args.data}: pass --data FOLDER with hotpotqa/, squad2/ and clapnq/.")
    args.work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
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
            n = len(assistant.index.sentences)
        except UserError:
            encoder = CachedEncoder(default_encoder(settings.embedding), self.cache)
            say(f"building the large index from {corpus} (embeddings cached in {self.cache}) …")
            report, seconds = _timed(lambda: ingest([corpus], settings, encoder=encoder, rebuild=True, progress=True))
            say(f"  {report.sentences} sentences in {seconds:.0f} s ({encoder.fresh} embedded now, the rest cached)")
            assistant = Assistant(settings)
            n = len(assistant.index.sentences)
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
        assistant.ask(questions[0])  # loads the index and BM25; the cold start is measured apart
        times, parts = [], {}
        for q in questions:
            answer = assistant.ask(q)
            times.append(answer.timings_ms["total"])
            for stage, ms in answer.timings_ms.items():
                parts.setdefault(stage, []).append(ms)
        self.put("query_p50_ms", float(np.percentile(times, 50)), 1)
        self.put("query_p95_ms", float(np.percentile(times, 95)), 1)
        self.put("query_stage_p50_ms", {s: round(float(np.median(v)), 1) for s, v in parts.items() if s != "total"})
        say(f"end-to-end answers ({len(questions)} questions, extractive answerer): p50 {self.figures['query_p50_ms']} ms, "
            f"p95 {self.figures['query_p95_ms']} ms; median by stage {self.figures['query_stage_p50_ms']}")

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
        recall = statistics.mean(len(set(map(int, a)) & set(map(int, e))) / 10 for a, e in zip(approx, exact))
        self.put("ann_recall_at_10", recall, 4)
        self.put("ann_source", source)
        say(f"ANN recall@10 against exact search: {recall:.4f} ({source})")

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
