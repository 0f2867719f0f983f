"""`qa ingest PATH --watch`: ingest, then ingest again whenever a watched file changes (watchfiles).

Each round is the ordinary incremental ingest, so only changed files are read and embedded again,
and the web chat and Slack bot pick up each new index generation by themselves.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from qa.settings import Settings

DEBOUNCE_MS = 1_500  # an editor's save is several events; a copied folder is many


def watch(paths: list, settings: Settings, rebuild: bool = False, progress: bool = True,
          stop: threading.Event | None = None) -> int:
    from watchfiles import DefaultFilter
    from watchfiles import watch as changes

    from qa import location
    from qa.render import format_report
    from qa.documents import SUPPORTED, is_url
    from qa.embedding import encoder_for
    from qa.errors import UserError
    from qa.ingest import ingest

    folders = [Path(p) for p in paths if not is_url(p)]
    missing = [str(p) for p in folders if not p.exists()]
    if not folders or missing:
        raise UserError(f"--watch needs existing files or folders to watch ({', '.join(missing) or 'none given'})")
    # One model for every round: loading it again for each change would cost seconds each time.
    encoder = encoder_for(None if rebuild else location.recorded_model(settings), settings.embedding)
    index_dir = Path(settings.index_dir).resolve()

    class Documents(DefaultFilter):
        """Supported files only, and never the index itself (it may sit inside a watched folder)."""

        def __call__(self, change, path: str) -> bool:
            here = Path(path)
            return (super().__call__(change, path) and here.suffix.lower() in SUPPORTED
                    and not here.name.startswith(".") and index_dir not in here.resolve().parents)

    def round_(rebuild_now: bool) -> None:
        try:
            report = ingest(paths, settings, encoder=encoder, rebuild=rebuild_now, progress=progress)
            print(format_report(report, location.describe(settings)), flush=True)
        except UserError as exc:  # e.g. another ingest holds the index: the next change retries
            print(f"qa: {exc}", file=sys.stderr, flush=True)

    round_(rebuild)
    print(f"watching {', '.join(map(str, folders))} for changes (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        for _ in changes(*folders, watch_filter=Documents(), debounce=DEBOUNCE_MS, stop_event=stop):
            round_(False)
    except KeyboardInterrupt:
        pass
    return 0
