"""The newest published advisories known to the project for the parsers and servers that face
untrusted input, with the first release that fixed each. tests/test_advisories.py fails when an
installed release, or the floor in pyproject.toml, is older. Add new advisories here, nowhere else.
"""

from packaging.version import Version

ADVISORIES = {
    "gradio": [
        ("GHSA-39mp-8hj3-5c49", "6.7.0"),  # absolute path traversal via /static/ (Windows, Python 3.13+)
        ("GHSA-j36p-7w88-g82j", "6.16.0"),  # path traversal in FileExplorer.preprocess
    ],
    "pypdf": [
        ("GHSA-5xf7-4p34-54qr", "6.14.1"),  # infinite loop on unterminated inline images
        ("GHSA-g867-7843-wf8q", "6.14.2"),  # infinite loop on unterminated ASCII85/ASCIIHex inline images
    ],
}


def minimum(package: str) -> str:
    """The first release that fixes every advisory listed for `package`."""
    return max((fixed for _, fixed in ADVISORIES[package]), key=Version)
