import re
from importlib.metadata import version

import pytest
from conftest import ROOT

from qa.advisories import ADVISORIES, _release, minimum


@pytest.mark.parametrize("package", sorted(ADVISORIES))
def test_installed_release_has_every_known_advisory_fixed(package):
    assert _release(version(package)) >= _release(minimum(package)), (
        f"{package} {version(package)} predates the fix for {ADVISORIES[package]}"
    )


@pytest.mark.parametrize("package", sorted(ADVISORIES))
def test_pyproject_floor_excludes_vulnerable_releases(package):
    pyproject = (ROOT / "pyproject.toml").read_text()
    floor = re.search(rf'"{package}>=([\d.]+)', pyproject)
    assert floor, f"pyproject.toml sets no lower bound for {package}"
    assert _release(floor.group(1)) >= _release(minimum(package))
