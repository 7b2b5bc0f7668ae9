"""The tools every agent gets: default_tools() assembles them (imports are lazy)."""

from __future__ import annotations

import importlib

from hermes.tools.base import Tool

# Modules exporting `TOOLS: list[Tool]`, in the order the model sees them.
TOOL_MODULES = (
    "hermes.tools.terminal",
    "hermes.tools.files",
    "hermes.tools.search",
    "hermes.tools.execute_code",  # local and docker backends only (Tool.when)
    "hermes.tools.memory",
    "hermes.tools.todo",
    "hermes.tools.clarify",
    "hermes.tools.session_tools",
    "hermes.tools.skills",
    "hermes.tools.cron",
    "hermes.tools.gateway_tools",
    "hermes.tools.voice",
    "hermes.tools.web",  # web_search only with web.search.backend; web_extract: web.extract
    "hermes.tools.homeassistant",  # offered only with HASS_URL and HASS_TOKEN (Tool.needs)
)


def default_tools() -> list[Tool]:
    tools: list[Tool] = []
    for name in TOOL_MODULES:
        tools.extend(importlib.import_module(name).TOOLS)
    names = [t.name for t in tools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuntimeError(f"tool names defined twice: {', '.join(duplicates)}")
    return tools
