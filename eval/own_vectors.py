"""What encoding each candidate's own vector costs an answer, with the int8 variant of the model
(qa.embedding.sentence_encoder, the default) against fp32, on this machine.

    .venv/bin/python eval/own_vectors.py                    # SQuAD 2.0 dev distractor, BBC dev open
    .venv/bin/python eval/own_vectors.py --limit 50

Each dev question (the ones eval/calibrate_reader.py reads) is read once by each encoder, in
alternating order, with the own-vector cache emptied before each read: a question a running
process has not seen. Prints the median "support" stage (resemblance: own vectors, word overlap,
answer kind) and the median paired difference, with a 95% bootstrap interval. The machine is
shared and noisy; only the paired difference is worth comparing between runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from calibrate_reader import SETS, dev_questions  # noqa: E402

MEASURED = (("squad2", True), ("bbc", False))  # (set, distractor setting)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=200, help="a seeded sample of this many questions per set")
    args = parser.parse_args(argv)

    import numpy as np

    from qa import support
    from qa.assistant import Assistant
    from qa.embedding import default_encoder
    from qa.metrics import bootstrap
    from qa.settings import Settings

    encoders = {"int8": default_encoder("int8"), "fp32": default_encoder("fp32")}
    for encoder in encoders.values():
        encoder.warm_up()
    for name, distractor in MEASURED:
        gold, index, _ = SETS[name]
        assistant = Assistant(Settings.load().with_(index_dir=ROOT / "index" / index))
        questions = dev_questions(name, gold, args.limit)
        took: dict[str, list[float]] = {precision: [] for precision in encoders}
        for number, q in enumerate(questions):
            for precision in (list(encoders) if number % 2 else list(encoders)[::-1]):
                support._OWN_VECTORS.clear()
                assistant.sentence_encoder = encoders[precision]
                timings: dict[str, float] = {}
                doc_ids = list(q.candidate_doc_ids) if distractor and q.candidate_doc_ids else None
                assistant.evidence(q.question, list(q.history), doc_ids, timings)
                took[precision].append(timings["support"])
        difference = np.array(took["int8"]) - np.array(took["fp32"])
        interval = bootstrap(len(difference), {"d": lambda draws: np.median(difference[draws], axis=1)})["d"]
        print(f"{name} dev ({len(questions)} questions, {'distractor' if distractor else 'open'}): support stage p50 "
              f"int8 {np.median(took['int8']):.1f} ms, fp32 {np.median(took['fp32']):.1f} ms; paired difference "
              f"int8 - fp32 {np.median(difference):+.1f} ms ({interval[0]:+.1f} to {interval[1]:+.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
