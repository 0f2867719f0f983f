"""groundqa: answers questions about your documents, citing the exact sentences, offline.

    >>> from qa import ask
    >>> ask("What did the US rule out?").answer   # doctest: +SKIP

Heavy libraries (torch, faiss, gradio, slack) load on first use, so importing qa is fast.
"""

from __future__ import annotations

__all__ = ["ask", "Assistant", "Settings", "Answer", "Citation", "Sentence", "Hit"]


def __getattr__(name: str):
    if name in ("ask", "Assistant"):
        from qa import assistant

        return getattr(assistant, name)
    if name == "Settings":
        from qa.settings import Settings

        return Settings
    if name in ("Answer", "Citation", "Sentence", "Hit"):
        from qa import types

        return getattr(types, name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
