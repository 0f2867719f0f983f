"""The one settings object. Everything tunable lives here, with the reason for its default."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

# Bumped whenever the on-disk layout or the meaning of a stored field changes.
INDEX_FORMAT = 1
SEGMENTER = "pysbd-0.3.4/lines-v1"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Limits:
    """Bounds that keep one hostile or huge file from stalling or exhausting an ingest."""

    max_file_bytes: int = 50_000_000
    max_pdf_pages: int = 2_000
    pdf_seconds: float = 60.0
    pdf_memory_bytes: int = 2 * 1024**3  # address space of each PDF reader: ample for real files, not bombs
    max_sentence_chars: int = 1_500  # longer "sentences" (tables, minified text) are cut at spaces
    max_block_chars: int = 20_000  # the segmenter's cost grows badly on enormous lines
    # Office files, e-books and OpenDocument are zip archives: refused when their contents would
    # inflate past this (a zip bomb disguised as .docx is a few kB on disk).
    max_unzipped_bytes: int = 300_000_000
    max_mailbox_bytes: int = 500_000_000  # an .mbox is read message by message, so it may exceed max_file_bytes
    max_image_pixels: int = 50_000_000  # images and OCR renders; Pillow's own guard against bombs
    max_ocr_pages: int = 200  # Tesseract reads a page in seconds: a 2,000-page scan would take hours
    ocr_page_seconds: float = 60.0
    page_bytes: int = 5_000_000  # one fetched web page
    page_seconds: float = 20.0  # one fetched web page, from request to last byte


@dataclass(frozen=True)
class Settings:
    index_dir: Path = PROJECT_ROOT / "index" / "default"
    # Where the vectors live: "faiss" (files inside index_dir) or a Milvus URI (milvus://host:port
    # for a cluster, or a local file path ending in .db for Milvus Lite).
    vector_store: str = "faiss"
    # From this many sentences on, dense search is approximate (HNSW) instead of exact: below it an
    # exact scan is fast enough and loses nothing.
    ann_from: int = 100_000

    # --- what shapes the index (part of its fingerprint) ---
    # Each sentence is embedded with this many neighbours on each side, after its document's
    # title. Measured on HotpotQA dev (open setting, 300 questions, recall@10 of gold sentences):
    # window 0: dense 0.693, BM25 0.686, hybrid 0.733; window 1: dense 0.667, hybrid 0.735.
    # Neighbours dilute the sentence more than they help, and cost embedding time, so none.
    window: int = 0
    embed_title: bool = True
    # The encoder of new (or rebuilt) indexes: "int8" (the default: ~1.5x faster ingest, recall no
    # worse; see qa/embedding.py) or "fp32". An existing index keeps the one its manifest names.
    embedding: str = "int8"

    # --- retrieval ---
    retrieval: str = "hybrid"  # "hybrid" | "dense" | "bm25" (the single ones exist to measure against)
    candidates: int = 40  # taken from each of dense and BM25 before fusion
    top_k: int = 10
    # A search restricted to a few given documents (doc_ids) keeps more sentences: the pool is
    # small, so the answerer can weigh nearly all of it instead of the ten best.
    restricted_top_k: int = 40
    rrf_k: int = 60

    # --- answering ---
    answerer: str = "extractive"  # "extractive" | "openai" | "gguf"
    # Support of a sentence for a question: a blend of the question-sentence cosine and the share
    # of the question's content words the sentence (with its title) contains. Calibrated on dev data.
    # Chosen with eval/calibrate.py on the dev splits of eval/sample_gold.jsonl and SQuAD 2.0.
    support_dense_weight: float = 0.7
    abstain_below: float = 0.45
    answer_margin: float = 0.03  # a second claim joins the answer only when this close to the best
    max_claims: int = 2
    same_claim_cosine: float = 0.70  # other documents' sentences this similar corroborate a claim
    # Multi-hop (see answer.second_fact): a linked document's sentence joins the answer as a second
    # fact, chosen by the share of the question it adds plus this weight times its own support.
    second_fact_support: float = 0.5
    # A best sentence below abstain_below (by at most multi_hop_leeway) still answers when it and
    # the second fact together hold pair_covers of the question's weighted terms. Chosen on
    # HotpotQA dev (150 questions, distractor): false abstention 0.51 -> 0.13.
    pair_covers: float = 0.5
    multi_hop_leeway: float = 0.2
    # Cite a document's first sentence beside a later one that does not name its subject ("He …").
    introduce_subject: bool = True
    # Learned citation of two title-linked documents (answer.Citer; fitted by eval/train_citer.py
    # on HotpotQA train+dev). Empty: rules only. Its answers may use multi_hop_leeway too, when its
    # sentences hold pair_covers of the question together (answer.held_together).
    citer: str = str(PROJECT_ROOT / "qa" / "citer.json")

    # --- optional LLM answerers: chosen explicitly, never by default ---
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    gguf_path: str = ""
    llm_max_tokens: int = 256
    llm_timeout_s: float = 60.0

    limits: Limits = Limits()

    def index_fingerprint(self, model: str) -> str:
        """Hash of everything that shapes stored vectors and sentences: a change needs a rebuild."""
        shaping = {
            "format": INDEX_FORMAT,
            "segmenter": SEGMENTER,
            "model": model,
            "window": self.window,
            "embed_title": self.embed_title,
            "max_sentence_chars": self.limits.max_sentence_chars,
        }
        return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Settings from QA_* environment variables, then explicit overrides (e.g. CLI flags)."""
        env = {
            "index_dir": os.environ.get("QA_INDEX"),
            "vector_store": os.environ.get("QA_STORE"),
            "embedding": os.environ.get("QA_EMBEDDING"),
            "answerer": os.environ.get("QA_ANSWERER"),
            "llm_base_url": os.environ.get("QA_LLM_BASE_URL"),
            "llm_model": os.environ.get("QA_LLM_MODEL"),
            "llm_api_key": os.environ.get("QA_LLM_API_KEY"),
            "gguf_path": os.environ.get("QA_GGUF_PATH"),
        }
        values = {k: v for k, v in env.items() if v}
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "index_dir" in values:
            values["index_dir"] = Path(values["index_dir"])
        return cls(**values)

    def describe(self) -> dict:
        out = asdict(self)
        out["index_dir"] = str(self.index_dir)
        out["llm_api_key"] = "***" if self.llm_api_key else ""
        return out
