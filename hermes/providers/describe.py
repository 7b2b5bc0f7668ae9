"""What a user is told about the model in use: one place for the offline-model notice.

The embedded `local` provider (SmolLM2-135M through llama.cpp) is a demo: it
chats in plain text and is never offered tools. Every surface that names the
model (gateway start-up, chat banners, /status, doctor, `-z`, the web chat
header) takes its wording from here. Pure: no I/O, no provider imports.
"""

from __future__ import annotations

OFFLINE_PROVIDER = "local"
OFFLINE_WHAT = "offline demo model: chat only, no tools"
OFFLINE_FIX = "run `hermes setup` for a real model"
OFFLINE_NOTICE = f"{OFFLINE_WHAT}; {OFFLINE_FIX}"
CUT_MARKER = "… [cut at the model's token limit]"


def is_offline(provider: str) -> bool:
    """True for the bundled offline demo model (provider `local`)."""
    return provider == OFFLINE_PROVIDER


def offline_notice(provider: str) -> str | None:
    """The one-line notice for the offline demo model; None for any real provider."""
    return OFFLINE_NOTICE if is_offline(provider) else None


def with_notice(line: str, provider: str) -> str:
    """`line` (e.g. "local · SmolLM2-135M-Instruct") followed by the notice when offline."""
    notice = offline_notice(provider)
    return f"{line} ({notice})" if notice else line


def mark_cut(text: str, finish_reason: str) -> str:
    """The answer with a visible marker appended when the model stopped at its
    token limit (finish_reason "length"); `text` itself stays its prefix."""
    if finish_reason != "length" or text.rstrip().endswith(CUT_MARKER):
        return text
    if not text or text[-1].isspace():
        return text + CUT_MARKER
    return f"{text} {CUT_MARKER}"
