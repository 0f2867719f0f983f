"""The package as a team installs it: a wheel (not editable) in a fresh virtualenv, used from a
directory outside the checkout. Everything it reads at run time must be inside the wheel.

The new virtualenv takes the dependencies from the project's own environment (a path line in a
.pth file, which does not run that environment's editable-install hook), so the test downloads
nothing and `qa` can only come from the wheel.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools' build/ folder in the checkout would keep modules deleted since.
    source = work / "source"
    shutil.copytree(ROOT / "qa", source / "qa", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(work / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next((work / "dist").glob("groundqa-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3.*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # pip --target writes no console script for this interpreter: run the entry point itself.
    return venv / "bin" / "python", work


def qa(python: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return subprocess.run([str(python), "-c", "import sys; from qa.cli import main; sys.exit(main())", *argv],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_works_from_a_directory_outside_the_checkout(installed):
    python, work = installed
    home = work / "elsewhere"
    shutil.copytree(CORPUS, home / "docs")
    where = qa(python, home, "config", "--json")
    assert where.returncode == 0, where.stderr
    assert json.loads(where.stdout)["index_dir"] == {"value": "index/default", "source": "default"}

    ingested = qa(python, home, "ingest", "docs", "--quiet")
    assert ingested.returncode == 0, ingested.stderr
    assert (home / "index" / "default").is_dir()  # in the working directory, never the installation

    located = subprocess.run([str(python), "-c", "import qa, sys; print(qa.__file__)"], cwd=home,
                             capture_output=True, text=True, timeout=60)
    assert ROOT not in Path(located.stdout.strip()).parents  # the wheel's copy, not the checkout's

    asked = qa(python, home, "ask", "What did the US rule out?", "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["abstained"] and "ground troops" in answer["answer"]

    local = qa(python, home, "ask", "What did the US rule out?", "--answerer", "gguf", "--set", "gguf_path=smollm2", "--json")
    assert local.returncode == 0, local.stderr  # the prompt file ships in the wheel
    assert json.loads(local.stdout)["answerer"] == "gguf"

    gold = ROOT / "eval" / "sample_gold.jsonl"
    scored = qa(python, home, "eval", str(gold), "--out", "out", "--quiet")
    assert scored.returncode == 0, scored.stderr
    assert json.loads((home / "out" / "metrics.json").read_text())["counts"]["questions"] == 38
