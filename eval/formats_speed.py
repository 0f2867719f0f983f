"""Reading speed of .docx and .pdf files: groundqa's loaders against llama-index's SimpleDirectoryReader.

    .venv/bin/python eval/formats_speed.py [--files 20] [--repeats 5]

Both read the same files, made here from the sample corpus's paragraphs (python-docx writes the
.docx; the PDFs are written like tests/pdfs.py's, one line a sentence). Timed is the text
extraction only: groundqa's documents.load (text, locators; each PDF in a bounded child process)
and SimpleDirectoryReader.load_data (DocxReader via docx2txt, PDFReader via pypdf). Each is run
`repeats` times; the median and the range of files per second are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def corpus_paragraphs() -> list[str]:
    paragraphs = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        paragraphs += [line.strip() for line in path.read_text().splitlines() if len(line.strip()) > 40]
    return paragraphs


def make_files(folder: Path, count: int) -> dict[str, list[Path]]:
    import docx
    from pdfs import lines_pdf

    paragraphs = corpus_paragraphs()
    files = {"docx": [], "pdf": []}
    for number in range(count):
        chosen = paragraphs[number % len(paragraphs):] + paragraphs[: number % len(paragraphs)]
        word = docx.Document()
        for paragraph in chosen:
            word.add_paragraph(paragraph)
        files["docx"].append(folder / f"doc{number}.docx")
        word.save(files["docx"][-1])
        ascii_lines = [p.encode("latin-1", "replace").decode("latin-1").replace("(", "[").replace(")", "]")[:90]
                       for p in chosen]
        pages = [ascii_lines[i : i + 40] for i in range(0, len(ascii_lines), 40)]
        files["pdf"].append(folder / f"doc{number}.pdf")
        files["pdf"][-1].write_bytes(lines_pdf(pages))
    return files


def ours(paths: list[Path]) -> int:
    from qa.documents import Found, load
    from qa.settings import Limits

    chars = 0
    for path in paths:
        documents, _ = load(Found(path, path.parent, path.parent), Limits())
        chars += sum(len(d.text) for d in documents)
    return chars


def llama(paths: list[Path]) -> int:
    from llama_index.core import SimpleDirectoryReader

    documents = SimpleDirectoryReader(input_files=[str(p) for p in paths]).load_data(show_progress=False)
    return sum(len(d.text) for d in documents)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import llama_index.core  # noqa: F401 - imported before timing, as groundqa's modules are
    import qa.documents  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp), args.files)
        print(f"{args.files} files of each kind, {args.repeats} runs each; files per second, median (min-max)")
        print("| format | groundqa | llama-index SimpleDirectoryReader |")
        print("|---|---|---|")
        for kind, paths in files.items():
            cells = []
            for reader in (ours, llama):
                reader(paths[:1])  # warm: imports and first-use costs are not reading speed
                rates = []
                for _ in range(args.repeats):
                    began = time.perf_counter()
                    reader(paths)
                    rates.append(len(paths) / (time.perf_counter() - began))
                cells.append(f"{statistics.median(rates):.0f} ({min(rates):.0f}-{max(rates):.0f})")
            print(f"| .{kind} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
