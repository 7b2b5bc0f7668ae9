"""Typed settings: the shape of config.yaml (SPEC §4) with defaults.

The loader in hermes.config validates a YAML file against these dataclasses
(unknown keys and wrong types are errors naming file, line and key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ProviderName = Literal["openrouter", "openai", "anthropic", "nous", "custom", "local"]
Backend = Literal["local", "docker", "ssh", "modal", "daytona", "singularity"]
NotifyMode = Literal["all", "result", "error", "off"]


@dataclass
class ModelSettings:
    provider: ProviderName | None = None  # None: resolved from keys (SPEC §1)
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None  # the variable that holds the key
    context_window: int | None = None  # tokens; None: a default per provider
    timeout: float = 120.0  # seconds per request
    max_retries: int = 4  # on 429, 5xx and timeouts


@dataclass
class AgentSettings:
    max_iterations: int = 40  # model calls per turn before giving up
    compress_threshold: float = 0.8  # compress when the context passes this share of the window
    keep_recent_messages: int = 8  # kept verbatim when compressing


@dataclass
class TerminalSettings:
    backend: Backend = "local"
    cwd: str | None = None  # None: HOME/workspace
    timeout: int = 180  # seconds for a foreground command
    max_output_chars: int = 20000  # output beyond this is cut, and the result says so


@dataclass
class DisplaySettings:
    background_process_notifications: NotifyMode = "all"
    streaming: bool = True


@dataclass
class MemorySettings:
    memory_char_limit: int = 2200  # memories/MEMORY.md
    user_char_limit: int = 1375  # memories/USER.md


@dataclass
class ApprovalSettings:
    mode: Literal["ask", "off"] = "ask"
    low_risk_auto_approve_seconds: int = 300
    channels: list[str] = field(default_factory=lambda: ["origin"])


@dataclass
class GatewaySettings:
    busy_input_mode: Literal["queue", "interrupt"] = "queue"
    # platform -> chat -> (thread -> profile) or profile
    profile_routes: dict[str, dict[str, dict[str, str] | str]] = field(default_factory=dict)


@dataclass
class TelegramSettings:
    topic_profiles: dict[str, str] = field(default_factory=dict)
    base_url: str = "https://api.telegram.org"
    require_mention: bool = False


@dataclass
class CronSettings:
    timezone: str | None = None  # None: the machine's local zone


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8420


@dataclass
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)
    terminal: TerminalSettings = field(default_factory=TerminalSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    approvals: ApprovalSettings = field(default_factory=ApprovalSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    cron: CronSettings = field(default_factory=CronSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
