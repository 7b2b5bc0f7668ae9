"""Typed settings: the shape of config.yaml (SPEC §4) with defaults.

The loader in hermes.config validates a YAML file against these dataclasses
(unknown keys and wrong types are errors naming file, line and key). Each
platform's section (`telegram:`, `discord:` ...) is declared by its module in
hermes/platforms/ and kept in `Settings.platforms`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

ProviderName = Literal["openrouter", "openai", "anthropic", "nous", "custom", "local"]
NotifyMode = Literal["all", "result", "error", "off"]


def bounded(default: Any, lo: float | None = None, hi: float | None = None) -> Any:
    """A numeric setting that must lie within [lo, hi] (checked when loaded)."""
    return field(default=default, metadata={"min": lo, "max": hi})


def matching(pattern: str, hint: str) -> Any:
    """An optional text setting that must match PATTERN; HINT says what is expected."""
    return field(default=None, metadata={"pattern": re.compile(pattern), "hint": hint})


def each_matching(pattern: str, hint: str) -> dict[str, Any]:
    """The metadata of a list of texts each of which must match PATTERN:
    `field(default_factory=list, metadata=each_matching(...))`."""
    return {"pattern": re.compile(pattern), "hint": hint}


def checked(default: Any, check: Callable[[Any], str | None]) -> Any:
    """A setting whose value CHECK judges: it returns what is wrong, or None."""
    return field(default=default, metadata={"check": check})


def known_zone(name: Any) -> str | None:
    """What is wrong with a time zone name (None or empty: the machine's zone)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f'unknown time zone "{name}"; use an IANA name such as Europe/Berlin'
    return None


PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
PROFILE_NAME_HINT = (
    "use 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
)


def profile_name(name: str) -> str | None:
    """What is wrong with a profile name a route leads to, or None."""
    if PROFILE_NAME.fullmatch(name):
        return None
    return f"invalid profile name {name!r}: {PROFILE_NAME_HINT}"


def check_constraint(metadata: Any, value: Any) -> str | None:
    """What is wrong with VALUE under a field's metadata, or None."""
    check = metadata.get("check")
    if check is not None:
        problem: str | None = check(value)
        if problem is not None:
            return problem
    lo, hi = metadata.get("min"), metadata.get("max")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if lo is not None and value < lo:
            return f"must be at least {lo}, got {value}"
        if hi is not None and value > hi:
            return f"must be at most {hi}, got {value}"
    pattern = metadata.get("pattern")
    for item in value if isinstance(value, list) else [value]:
        if pattern is not None and isinstance(item, str) and not pattern.fullmatch(item):
            return f"{metadata['hint']}, got {item!r}"
    return None


ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def http_url() -> Any:
    return matching(r"https?://\S+", "must be an http:// or https:// URL")


def env_name() -> Any:
    return matching(ENV_NAME, "must be an environment variable name")


@dataclass
class ModelSettings:
    provider: ProviderName | None = None  # None: resolved from keys (SPEC §1)
    model: str | None = None
    base_url: str | None = matching(r"https?://\S+", "must be an http:// or https:// URL")
    api_key_env: str | None = matching(ENV_NAME, "must be an environment variable name")
    context_window: int | None = bounded(None, 512)  # tokens; None: a default per provider
    timeout: float = bounded(120.0, 1)  # seconds a request may go silent (a read timeout)
    max_retries: int = bounded(4, 0, 20)  # on 429, 5xx, connection errors; read timeouts: once
    # one model call (all tries and waits) fails after this long without progress
    max_call_seconds: float = bounded(300.0, 1, 86400)
    # the chat is told the model is slow after this long without a sign of life
    slow_notice_seconds: float = bounded(30.0, 0.1, 3600)


@dataclass
class AgentSettings:
    max_iterations: int = bounded(40, 1, 1000)  # model calls per turn before giving up
    # compress when the context passes this share of the model's window
    compress_threshold: float = bounded(0.8, 0.1, 0.95)
    keep_recent_messages: int = bounded(8, 1)  # kept verbatim when compressing


def known_backend(name: Any) -> str | None:
    """What is wrong with a terminal.backend name (the names are hermes/backends' table)."""
    from hermes.backends import unknown

    return unknown(name)


@dataclass
class SshSettings:
    """terminal.ssh: the machine the ssh backend runs commands on (hermes/backends/ssh.py)."""

    host: str | None = None
    user: str | None = None  # None: as the ssh client decides (your login name)
    port: int = bounded(22, 1, 65535)
    key: str | None = None  # private key file (~ is your home; relative: to the Hermes home)
    connect_timeout: int = bounded(10, 1, 300)  # seconds


@dataclass
class SingularitySettings:
    """terminal.singularity: the apptainer/singularity backend (hermes/backends/singularity.py)."""

    image: str | None = None  # a SIF file (~ is your home; relative: to the Hermes home)
    # the writable overlay that keeps installed packages and files (created on first use):
    # a .img file (apptainer overlay create) or a directory; relative: to the Hermes home
    overlay: str = "singularity/overlay.img"
    overlay_mb: int = bounded(1024, 64, 1048576)  # size of a new overlay image


@dataclass
class ModalSettings:
    """terminal.modal: a Modal sandbox (hermes/backends/modal.py; credentials: `modal setup`)."""

    image: str = "debian:bookworm-slim"  # a registry image for a new sandbox
    app: str = "hermes"  # the Modal app the sandboxes belong to
    timeout: int = bounded(86400, 60, 86400)  # seconds a sandbox may live (Modal's cap)


@dataclass
class DaytonaSettings:
    """terminal.daytona: a Daytona sandbox (hermes/backends/daytona.py; key: DAYTONA_API_KEY)."""

    image: str | None = None  # None: Daytona's default sandbox image
    target: str | None = None  # region, e.g. us or eu; None: the SDK's default


@dataclass
class DockerSettings:
    """terminal.docker: the container the docker backend runs commands in
    (hermes/backends/docker.py)."""

    image: str | None = None  # required for the docker backend, e.g. debian:12
    cli: Literal["auto", "docker", "podman"] = "auto"  # auto: whichever engine answers
    network: str = "none"  # --network: none (no network), bridge, host, or a network's name
    memory: str | None = matching(r"[0-9]+(\.[0-9]+)?[bkmgBKMG]?", "e.g. 512m or 2g")
    cpus: float | None = bounded(None, 0.01, 1024)  # --cpus


@dataclass
class TerminalSettings:
    backend: str = checked("local", known_backend)  # a name in hermes/backends MODULES
    # profile: one environment (cwd, remote connection) for the whole profile; session:
    # one per chat session
    scope: Literal["profile", "session"] = "profile"
    ssh: SshSettings = field(default_factory=SshSettings)
    docker: DockerSettings = field(default_factory=DockerSettings)
    singularity: SingularitySettings = field(default_factory=SingularitySettings)
    modal: ModalSettings = field(default_factory=ModalSettings)
    daytona: DaytonaSettings = field(default_factory=DaytonaSettings)
    # a backend that can hibernate (singularity, modal, daytona) does after this many
    # seconds without a command or file call, and wakes on the next one; 0: never
    idle_seconds: int = bounded(300, 0, 604800)
    # None: HOME/workspace (ssh: the remote login directory); ~ and relative paths: see
    # Profile.workspace (ssh: the remote home)
    cwd: str | None = None
    timeout: int = bounded(180, 1, 3600)  # seconds for a foreground command
    max_output_chars: int = bounded(20000, 200)  # output beyond this is cut, and the result says so
    # variables with keys/tokens/passwords that tool commands may see anyway (hermes/tool_env.py)
    env_passthrough: list[str] = field(
        default_factory=list, metadata=each_matching(ENV_NAME, "each must be a variable name")
    )


@dataclass
class DisplaySettings:
    background_process_notifications: NotifyMode = "all"
    streaming: bool = True


@dataclass
class MemorySettings:
    memory_char_limit: int = bounded(2200, 100)  # memories/MEMORY.md
    user_char_limit: int = bounded(1375, 100)  # memories/USER.md
    # every N user turns a background review asks what to remember and stages memory
    # proposals (hermes/skills/review.py); 0: never
    nudge_turns: int = bounded(10, 0)


@dataclass
class ApprovalSettings:
    mode: Literal["ask", "off"] = "ask"
    low_risk_auto_approve_seconds: int = bounded(300, 0)
    channels: list[str] = field(default_factory=lambda: ["origin"])
    # PLATFORM:USER ids who may decide any request from a chat (besides whoever asked)
    deciders: list[str] = field(
        default_factory=list,
        metadata=each_matching(
            r"[a-z][a-z0-9_-]*:\S+", "each must be PLATFORM:USER_ID, e.g. telegram:123456789"
        ),
    )


@dataclass
class GatewaySettings:
    busy_input_mode: Literal["queue", "interrupt"] = "queue"
    max_concurrent_turns: int = bounded(16, 1, 4096)  # turns running at once, all chats together
    max_concurrent_tasks: int = bounded(4, 1, 256)  # background/walkaway tasks running at once
    drain_seconds: float = bounded(20.0, 0, 3600)  # on SIGTERM: wait this long for running turns
    delivery_max_attempts: int = bounded(8, 1, 1000)  # sends of one reply before it is "failed"
    # platform -> chat -> (thread -> profile) or profile
    profile_routes: dict[str, dict[str, dict[str, str] | str]] = field(
        default_factory=dict, metadata={"each_leaf": profile_name}
    )


@dataclass
class ClusterSettings:
    """Replicas on PostgreSQL (HERMES_DATABASE_URL; docs/scale-out.md)."""

    # the active replica renews its lease this often (a third of it); a standby takes
    # over at most this long after the active one dies
    lease_seconds: float = bounded(15.0, 3, 600)


@dataclass
class CronSettings:
    timezone: str | None = checked(None, known_zone)  # None: the machine's local zone


@dataclass
class ModelPrice:
    input: float = bounded(0.0, 0)  # USD per 1M prompt tokens
    output: float = bounded(0.0, 0)  # USD per 1M completion tokens


@dataclass
class UsageSettings:
    # model name (as /status shows it) -> its price, for calls whose provider reports
    # no cost (OpenRouter reports it; hermes usage prefers that)
    prices: dict[str, ModelPrice] = field(default_factory=dict)


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = bounded(8420, 0, 65535)  # 0: any free port (written to gateway.json)


@dataclass
class SttSettings:
    # local: faster-whisper with the Whisper model shipped in a package (offline);
    # openai: any OpenAI-compatible /audio/transcriptions endpoint (OpenAI, Groq, a
    # local whisper server) at base_url
    provider: Literal["local", "openai"] = "local"
    model: str | None = None  # None: "base" (local, packaged) / "whisper-1" (openai)
    language: str | None = None  # ISO 639-1, e.g. "en"; None: detected
    base_url: str | None = http_url()  # openai: None is https://api.openai.com/v1
    api_key_env: str | None = env_name()  # openai: None is OPENAI_API_KEY
    timeout: float = bounded(120.0, 1, 3600)  # seconds for one transcription


@dataclass
class TtsSettings:
    # local: espeak-ng (offline); openai: any OpenAI-compatible /audio/speech endpoint
    provider: Literal["local", "openai"] = "local"
    model: str | None = None  # openai: None is "tts-1"
    voice: str | None = None  # local: an espeak-ng voice ("en-us"); openai: "alloy", ...
    speed: float = bounded(1.0, 0.25, 4.0)  # 1.0: the provider's normal pace
    base_url: str | None = http_url()
    api_key_env: str | None = env_name()
    timeout: float = bounded(60.0, 1, 3600)
    max_chars: int = bounded(4000, 100, 100000)  # a longer reply is spoken up to here


@dataclass
class VoiceSettings:
    stt: SttSettings = field(default_factory=SttSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    # transcriptions and syntheses running at once (each takes a CPU core or a request)
    max_concurrent: int = bounded(1, 1, 64)


@dataclass
class WebSearchSettings:
    """web.search: where web_search asks (hermes/tools/web_backends.py); None: no web_search."""

    # searxng: a SearXNG instance's JSON API (self-hosted; its settings.yml must allow the
    # json format); brave: the Brave Search API (a key from api-dashboard.search.brave.com)
    backend: Literal["searxng", "brave"] | None = None
    url: str | None = http_url()  # searxng: the instance (required); brave: None is its API
    api_key_env: str | None = env_name()  # brave: None is BRAVE_API_KEY
    results: int = bounded(5, 1, 20)  # results per search


@dataclass
class WebSettings:
    search: WebSearchSettings = field(default_factory=WebSearchSettings)
    extract: bool = True  # offer web_extract (reads one page's text; needs the `web` extra)
    # web_extract may read pages on this machine and the private network (127.0.0.1,
    # 192.168.x.x, ...); off: only public addresses, so a page cannot steer it inward
    extract_private: bool = False
    timeout: float = bounded(20.0, 1, 600)  # seconds for one search or one page
    max_bytes: int = bounded(2_000_000, 10_000, 100_000_000)  # of a page read at most
    max_chars: int = bounded(20_000, 500, 1_000_000)  # of text returned; the result says if cut


@dataclass
class DelegationSettings:
    max_children: int = bounded(3, 1, 16)  # subtasks of one delegate call (they run at once)
    max_depth: int = bounded(1, 1, 3)  # 1: children cannot delegate further
    timeout_seconds: float = bounded(600.0, 1, 86400)  # wall clock per child, then killed


@dataclass
class ExecuteCodeSettings:
    """The execute_code tool: a Python script calling tools over RPC."""

    timeout: int = bounded(300, 1, 3600)  # seconds; then the script's process tree is killed
    max_tool_calls: int = bounded(50, 1, 10000)  # per script; the next call gets an error
    max_stdout_chars: int = bounded(20000, 200)  # beyond this stdout is cut, and the result says so
    max_stderr_chars: int = bounded(4000, 200)  # the last this many chars of stderr
    python: str = "python3"  # the interpreter, looked up on the backend's PATH


@dataclass
class SkillsSettings:
    # what happens to a skill or memory change the agent proposes: ask (staged until the
    # user's /skills apply ID) or auto (applied at once; /skills rollback ID undoes it)
    write_approval: Literal["auto", "ask"] = "ask"
    # a turn with this many tool calls (or a user correction) gets a background review
    # that may propose a skill; 0: never
    review_after_tool_calls: int = bounded(8, 0)
    # the curator archives agent-made skills unused this long (never the user's own)
    archive_after_days: int = bounded(90, 1)


@dataclass
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)
    terminal: TerminalSettings = field(default_factory=TerminalSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    approvals: ApprovalSettings = field(default_factory=ApprovalSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    # the sections of the platforms (hermes/platforms/): name -> its module's settings
    # dataclass, for the top-level keys of config.yaml that name a platform (the loader
    # fills it; `hermes.platforms.spec.section` reads it, with the defaults if absent)
    platforms: dict[str, Any] = field(default_factory=dict)
    cron: CronSettings = field(default_factory=CronSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    usage: UsageSettings = field(default_factory=UsageSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    skills: SkillsSettings = field(default_factory=SkillsSettings)
    execute_code: ExecuteCodeSettings = field(default_factory=ExecuteCodeSettings)
    delegation: DelegationSettings = field(default_factory=DelegationSettings)
    web: WebSettings = field(default_factory=WebSettings)
