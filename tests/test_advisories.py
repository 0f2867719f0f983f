import re
from importlib.metadata import version

import pytest
from conftest import ROOT
from packaging.version import Version

from qa.advisories import ADVISORIES, minimum


@pytest.mark.parametrize("package", sorted(ADVISORIES))
def test_installed_release_has_every_known_advisory_fixed(package):
    assert Version(version(package)) >= Version(minimum(package)), (
        f"{package} {version(package)} predates the fix for {ADVISORIES[package]}"
    )


@pytest.mark.parametrize("package", sorted(ADVISORIES))
def test_pyproject_floor_excludes_vulnerable_releases(package):
    pyproject = (ROOT / "pyproject.toml").read_text()
    floor = re.search(rf'"{package}>=([\d.]+)', pyproject)
    assert floor, f"pyproject.toml sets no lower bound for {package}"
    assert Version(floor.group(1)) >= Version(minimum(package))
