"""Check a hand-written gold file against its documents and give it a seeded dev/test split.

    python eval/gold/make_split.py eval/gold/bbc_news.jsonl --docs ../shared/corpora/bbc_news_dev --dev-share 0.5
    python eval/gold/make_split.py eval/gold/sample_paraphrase.jsonl --docs corpus --dev-share 0.33

Every supporting sentence must occur verbatim in its document and every answer string in one of
the question's supporting sentences; unanswerable questions must have neither. The split is drawn
per kind (meta.kind), so each kind is divided in the same proportion, and is the same every run.
"""

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path


def read_text(path: Path) -> str:
    # The same fallback the loader uses (qa/documents.py): a few BBC files are cp1252, not UTF-8.
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def problems(item: dict, docs: Path) -> list[str]:
    found = []
    if item["answerable"] != bool(item["answers"]) or item["answerable"] != bool(item["supporting"]):
        found.append("answerable, answers and supporting disagree")
    for sup in item["supporting"]:
        path = docs / sup["doc_id"]
        if not path.is_file():
            found.append(f"no document {sup['doc_id']}")
        elif sup["sentence"] not in read_text(path):
            found.append(f"sentence not verbatim in {sup['doc_id']}: {sup['sentence'][:60]}")
    for answer in item["answers"]:
        if not any(answer in sup["sentence"] for sup in item["supporting"]):
            found.append(f"answer {answer!r} in no supporting sentence")
    if item["meta"]["kind"] == "follow_up" and not item["history"]:
        found.append("follow-up without history")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gold", type=Path)
    parser.add_argument("--docs", type=Path, required=True, help="the folder the gold's doc_ids are relative to")
    parser.add_argument("--dev-share", type=float, required=True)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()

    items = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = [(item["id"], p) for item in items for p in problems(item, args.docs)]
    ids = [item["id"] for item in items]
    if len(set(ids)) != len(ids):
        bad.append(("-", "duplicate ids"))
    for item_id, problem in bad:
        print(f"{item_id}: {problem}", file=sys.stderr)
    if bad:
        return 1

    by_kind = defaultdict(list)
    for item in items:
        by_kind[item["meta"]["kind"]].append(item)
    rng = random.Random(args.seed)
    for kind in sorted(by_kind):
        group = sorted(by_kind[kind], key=lambda item: item["id"])
        rng.shuffle(group)
        n_dev = round(len(group) * args.dev_share)
        for i, item in enumerate(group):
            item["split"] = "dev" if i < n_dev else "test"
    args.gold.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    print(f"{args.gold}: {len(items)} questions valid; split written (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
