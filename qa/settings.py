"""The one settings object. Everything tunable lives here, with the reason for its default."""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path

from qa.errors import UserError

# Bumped whenever the on-disk layout or the meaning of a stored field changes.
INDEX_FORMAT = 1
SEGMENTER = "pysbd-0.3.4/lines-v1"


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

    def __post_init__(self) -> None:
        for f in fields(self):
            refuse_out_of_range(f.name, getattr(self, f.name), "Limits")


# What each number setting must be. Out of range, most would still run and read as an answer: top_k
# 0 or abstain_below 2 abstain on every question ("The documents don't say"), candidates 0 failed
# inside FAISS. Every ingest limit must be greater than 0.
AT_LEAST_1 = {"ann_from", "candidates", "top_k", "restricted_top_k", "max_claims", "llm_max_tokens"}
AT_LEAST_0 = {"window", "rrf_k", "second_fact_support"}
SHARES = {"support_dense_weight", "abstain_below", "answer_margin", "same_claim_cosine", "pair_covers",
          "multi_hop_leeway"}
LIMITS = {f.name for f in fields(Limits)}


def refuse_out_of_range(name: str, value, where: str) -> None:
    """A UserError naming `name` when `value` is outside what it may be."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    need = ("at least 1" if name in AT_LEAST_1 and value < 1 else
            "at least 0" if name in AT_LEAST_0 and value < 0 else
            "between 0 and 1" if name in SHARES and not 0 <= value <= 1 else
            "greater than 0" if (name == "llm_timeout_s" or name in LIMITS) and not value > 0 else None)
    if need:
        raise UserError(f"{name} = {value!r} (from {where}) is out of range: it must be {need}")


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path("index") / "default"  # relative to the working directory
    # Where the index lives: "faiss" (files inside index_dir) or wholly in Milvus (qa/milvus.py):
    # milvus://host:port[/name] for a server or cluster, or a local file path ending in .db for
    # Milvus Lite; index_dir then only holds local state (feedback, web uploads).
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
    # Candidates the reader reads (open setting): more reach more gold sentences and two-fact
    # answers, fewer abstain better (eval/candidates.py on dev; eval/README.md has the table).
    top_k: int = 10
    # A search restricted to a few given documents (doc_ids) keeps more sentences: the pool is
    # small, so the answerer can weigh nearly all of it instead of the ten best.
    restricted_top_k: int = 40
    rrf_k: int = 60

    # --- answering ---
    answerer: str = "extractive"  # "extractive" | "openai" | "gguf"
    # Resemblance (qa/support.py): a blend of the question-sentence cosine and the share of the
    # question's content words the sentence (with its title) contains; the weight was chosen with
    # eval/calibrate.py on the dev splits of eval/sample_gold.jsonl and SQuAD 2.0.
    support_dense_weight: float = 0.7
    # On the scale of support (the reader combined with resemblance), chosen by
    # eval/calibrate_reader.py on held-out dev questions (qa/models/reader.json records them).
    # Without the reader (reader = "") support is resemblance, whose threshold was 0.45 (margin
    # 0.03, two claims: eval/calibrate.py).
    abstain_below: float = 0.55
    answer_margin: float = 0.05  # a second claim joins the answer only when this close to the best
    max_claims: int = 3
    same_claim_cosine: float = 0.70  # other documents' sentences this similar corroborate a claim
    # Multi-hop (second_fact in qa/answer/multihop.py): a linked document's sentence joins the
    # answer as a second fact, chosen by the share of the question it adds plus this weight times
    # its own support.
    second_fact_support: float = 0.5
    # A best sentence below abstain_below (by at most multi_hop_leeway) still answers when it and
    # the second fact together hold pair_covers of the question's weighted terms. Chosen on
    # HotpotQA dev (150 questions, distractor): false abstention 0.51 -> 0.13.
    pair_covers: float = 0.5
    multi_hop_leeway: float = 0.2
    # Cite a document's first sentence beside a later one that does not name its subject ("He …").
    introduce_subject: bool = True
    # Learned citation of two title-linked documents (qa/answer/citer.py; fitted by
    # eval/train_citer.py on HotpotQA train+dev; package data). Empty: rules only. Its answers may
    # use multi_hop_leeway too, when its sentences hold pair_covers of the question together
    # (held_together in qa/answer/multihop.py).
    citer: str = str(resources.files("qa") / "citer.json")
    # The trained reader (qa/reader.py; reader.json beside it): it reads each retrieved sentence
    # with the question, and support becomes its calibrated combination with resemblance. Empty:
    # resemblance alone.
    reader: str = str(resources.files("qa") / "models" / "reader-int8.onnx")
    # The short-answer model (qa/short_answer.py; short-answer.json beside it): the answer's words
    # inside the best cited sentence, led with when it is confident. Empty: no short answers.
    short_answer: str = str(resources.files("qa") / "models" / "short-answer-int8.onnx")

    # --- optional LLM answerers: chosen explicitly, never by default ---
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    gguf_path: str = ""
    llm_max_tokens: int = 256
    llm_timeout_s: float = 60.0

    limits: Limits = Limits()

    def __post_init__(self) -> None:
        for f in fields(self):
            refuse_out_of_range(f.name, getattr(self, f.name), "Settings")

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
    def load(cls, config: Path | None = None, **flags) -> Settings:
        """The effective settings: defaults, then the config file, the environment and `flags`
        (None flags are not given); see `resolve`."""
        return resolve(config, flags).settings

    def describe(self) -> dict:
        out = asdict(self)
        out["index_dir"] = str(self.index_dir)
        out["llm_api_key"] = "***" if self.llm_api_key else ""
        return out


# --- where each setting comes from -------------------------------------------------------------
CONFIG_FILE = "groundqa.toml"
# Shorter names kept from before every setting had its QA_<SETTING> variable; both work.
ENV_ALIASES = {"index_dir": "QA_INDEX", "vector_store": "QA_STORE"}
# Settings that take one of a few words.
CHOICES = {"retrieval": ("hybrid", "dense", "bm25"), "answerer": ("extractive", "openai", "gguf"),
           "embedding": ("int8", "fp32")}
_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "Path": Path}


@dataclass(frozen=True)
class Resolved:
    settings: Settings
    sources: dict[str, str]  # setting (limits as "limits.NAME") -> "default" | "file" | "env" | "flag"
    config_file: Path | None


def env_value(environ, name: str) -> tuple[str, str | None]:
    """The variable that sets `name` (QA_<SETTING>, or its older short name) and its value."""
    for variable in (f"QA_{name.upper()}", ENV_ALIASES.get(name)):
        if variable and environ.get(variable):
            return variable, environ[variable]
    return f"QA_{name.upper()}", None


def resolve(config: Path | None = None, flags: dict | None = None, environ=None) -> Resolved:
    """Settings from, in rising precedence: defaults, a config file (`config`, else $QA_CONFIG,
    else ./groundqa.toml when present), QA_<SETTING> environment variables and `flags`.

    The file holds the settings by name, with the ingest limits in a [limits] table:

        top_k = 20
        abstain_below = 0.4
        [limits]
        max_file_bytes = 100_000_000

    An unknown name or a value of the wrong type is refused with a UserError that names it.
    """
    environ = os.environ if environ is None else environ
    top = {f.name: f for f in fields(Settings) if f.name != "limits"}
    limit_fields = {f.name: f for f in fields(Limits)}
    values: dict[str, object] = {}
    limits: dict[str, object] = {}
    sources = {name: "default" for name in top} | {f"limits.{name}": "default" for name in limit_fields}

    path = config or (Path(environ["QA_CONFIG"]) if environ.get("QA_CONFIG") else None)
    if path is None and Path(CONFIG_FILE).is_file():
        path = Path(CONFIG_FILE)
    if path is not None:
        import tomllib

        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(f"Cannot read the config file {path}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{path} is not valid TOML (UTF-8): {exc}") from None
        nested = table.pop("limits", {})
        if not isinstance(nested, dict):
            raise UserError(f"{path}: [limits] must be a table of ingest limits")
        for name, raw in table.items():
            values[name] = _value(name, raw, top, f"{path}")
            sources[name] = "file"
        for name, raw in nested.items():
            limits[name] = _value(name, raw, limit_fields, f"{path} [limits]")
            sources[f"limits.{name}"] = "file"

    for name in top:
        variable, raw = env_value(environ, name)
        if raw:
            values[name] = _value(name, raw, top, variable)
            sources[name] = "env"
    for name in limit_fields:
        variable, raw = env_value(environ, name)
        if raw:
            limits[name] = _value(name, raw, limit_fields, variable)
            sources[f"limits.{name}"] = "env"

    for name, raw in (flags or {}).items():
        if raw is None:
            continue
        if name in limit_fields:
            limits[name] = _value(name, raw, limit_fields, "a flag")
            sources[f"limits.{name}"] = "flag"
        else:
            values[name] = _value(name, raw, top, "a flag")
            sources[name] = "flag"
    settings = Settings(**values, limits=Limits(**limits))
    return Resolved(settings, sources, path)


def _value(name: str, raw, known: dict, where: str):
    """`raw` (text from the environment or a flag, or a TOML value) as the setting's type, refused
    when it cannot mean anything (an empty path, not-a-number, a word not among the choices)."""
    value = _typed(name, raw, known, where)
    if isinstance(value, Path) and not str(raw).strip():
        raise UserError(f"{name} (from {where}) is empty: give a path")
    if isinstance(value, float) and math.isnan(value):
        raise UserError(f"{name} = {raw!r} (from {where}) is not a number")
    if name in CHOICES and value not in CHOICES[name]:
        raise UserError(f"{name} = {raw!r} (from {where}) is not one of {', '.join(CHOICES[name])}")
    refuse_out_of_range(name, value, where)
    return value


def _typed(name: str, raw, known: dict, where: str):
    if name not in known:
        close = ", ".join(sorted(known))
        raise UserError(f"Unknown setting {name!r} in {where}; the settings are: {close}")
    kind = _TYPES[str(known[name].type).split(" |")[0]]
    if isinstance(raw, str) and kind is not str:
        text = raw.strip()
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError(text)
                return text.lower() in ("true", "1", "yes", "on")
            return kind(text) if kind is not float or text.lower() != "inf" else float("inf")
        except ValueError:
            raise UserError(f"{name} = {raw!r} (from {where}) is not {_kind_name(kind)}") from None
    if kind is Path:
        if not isinstance(raw, (str, Path)):
            raise UserError(f"{name} = {raw!r} (from {where}) is not a path")
        return Path(raw)
    if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if not isinstance(raw, kind) or (kind is int and isinstance(raw, bool)):
        raise UserError(f"{name} = {raw!r} (from {where}) is not {_kind_name(kind)}")
    return raw


def _kind_name(kind) -> str:
    return {int: "a whole number", float: "a number", bool: "true or false", str: "text", Path: "a path"}[kind]
