"""What a turn runs under: the profile (home, settings, env) and the session.

Context is passed down, never global: tools read `ctx.cwd` and `ctx.env`
instead of `os.getcwd()` / `os.environ`, run and read through `ctx.backend`,
and nothing per turn changes the process environment or working directory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hermes.backends.base import Backend
    from hermes.risk.model import Where
    from hermes.settings import Settings
    from hermes.store import Store
    from hermes.store.where import Database
    from hermes.tools.process import ProcessManager


@dataclass(frozen=True)
class Profile:
    """A loaded home: its name, directory, validated settings and environment."""

    name: str  # "default" for the home itself, else the profile name
    home: Path
    settings: Settings
    env: dict[str, str]  # inherited environment overlaid with the home's .env

    @property
    def workspace(self) -> Path:
        """The terminal's cwd: terminal.cwd (~ is the user's home; a relative path is
        taken from the Hermes home), else HOME/workspace."""
        configured = self.settings.terminal.cwd
        if not configured:
            return self.home / "workspace"
        if configured == "~" or configured.startswith("~/"):
            user_home = self.env.get("HOME")
            path = Path(user_home) / configured[2:] if user_home else Path(configured).expanduser()
        else:
            path = Path(configured)
        return path if path.is_absolute() else self.home / path  # relative: to the home

    @property
    def db_path(self) -> Path:
        return self.home / "state.db"

    @property
    def database(self) -> Database:
        """state.db, or this profile's schema on PostgreSQL with HERMES_DATABASE_URL."""
        from hermes.store.where import locate

        return locate(self.home, self.name, self.env)

    @property
    def root(self) -> Path:
        """The Hermes root (`~/.hermes`): the home itself for the default profile,
        else the directory that holds `profiles/NAME`."""
        if self.name != "default" and self.home.parent.name == "profiles":
            return self.home.parent.parent
        return self.home

    @property
    def tool_env(self) -> dict[str, str]:
        """The environment of the agent's subprocesses: without keys, tokens and
        passwords (hermes/tool_env.py), plus HERMES_HOME."""
        from hermes.tool_env import tool_environment

        key_env = self.settings.model.api_key_env
        env = tool_environment(
            self.env, self.settings.terminal.env_passthrough, [key_env] if key_env else []
        )
        env["HERMES_HOME"] = str(self.home)
        return env


class UserIO(Protocol):
    """How a tool reaches the human (the `clarify` tool)."""

    async def ask(self, question: str, choices: list[str] | None = None) -> str: ...


class NoUser:
    """Used where nobody can answer (one-shot `hermes -z`, background tasks)."""

    async def ask(self, question: str, choices: list[str] | None = None) -> str:
        return "(nobody is available to answer; proceed with your best judgement)"


class ToolServices(Protocol):
    """What tools may ask of the gateway they run in (hermes/gateway/services.py
    implements it). Outside a gateway there is none: `TurnContext.gateway()` then
    raises a ToolError saying so. No tool imports the gateway."""

    async def send(self, ctx: TurnContext, target: str, text: str) -> str:
        """Queue TEXT for TARGET ("origin", "home" or PLATFORM:CHAT[:THREAD]) through
        the delivery ledger; one line saying where it went."""
        ...

    async def delegate(self, ctx: TurnContext, tasks: object, wait: bool) -> str:
        """Run child agents for TASKS (each {goal, context?}); with WAIT their results,
        else one line naming the task ids (the results come as a new turn)."""
        ...

    def notify(self, ctx: TurnContext, text: str) -> None:
        """Tell the turn's chat TEXT at once (a progress line; not stored as a reply)."""
        ...

    def wake_scheduler(self) -> None:
        """Cron jobs changed: the scheduler looks again."""
        ...


# Runs a tool by name as the model's own call would run (the approval gate and the
# other hooks first), for code that calls tools (execute_code). A call that would
# wait for the user's decision is not run: (the one-line reason, True).
ToolRunner = Callable[[str, dict[str, Any]], Awaitable[tuple[str, bool]]]


@dataclass
class TurnContext:
    """Everything a tool call may touch, passed to every tool."""

    profile: Profile
    session_id: str
    store: Store
    processes: ProcessManager
    user: UserIO = field(default_factory=NoUser)
    origin: str | None = None  # the chat the turn answers (PLATFORM:CHAT[:THREAD]); None: terminal
    # the gateway's services (send, delegate, notify, wake the scheduler), in the
    # gateway; elsewhere None (see gateway())
    services: ToolServices | None = None
    # set by the agent loop for the turn it runs (see ToolRunner)
    run_tool: ToolRunner | None = None
    # True for calls made by code or a child with nobody to ask right now: the
    # approval gate refuses what it would have asked about, instead of asking
    unattended: bool = False
    # the model's tool call being run (set by the agent loop for each call)
    call_id: str | None = None

    def gateway(self, tool: str) -> ToolServices:
        """The gateway's services, or a ToolError naming TOOL when there is none."""
        if self.services is None:
            from hermes.errors import ToolError

            raise ToolError(
                f"{tool} works only in the gateway (`hermes gateway run`, or a chat "
                "platform); this session has no gateway"
            )
        return self.services

    @property
    def backend(self) -> Backend:
        """Where this turn's commands run and its files live (hermes/backends/): the
        profile's, or the session's with terminal.scope: session. Raises ToolError
        when the configured backend is not available."""
        return self.processes.backends.get(self.profile, self.session_id)

    @property
    def cwd(self) -> Path:
        """The working directory of the backend: the workspace, until a terminal
        command changes directory."""
        return self.backend.cwd

    def where(self) -> Where:
        """Where the approval gate judges this turn's paths: the backend's cwd and
        home, Hermes' own homes (the control plane) and the backend's disk as it is."""
        from hermes.risk.model import Where

        reach = self.backend.where()
        return Where(
            cwd=self.cwd,
            home=reach.home,
            hermes_root=self.profile.root,
            hermes_home=self.profile.home,
            probe=reach.probe,
        )

    @property
    def env(self) -> dict[str, str]:
        """The environment for subprocesses of this turn (a fresh copy, without
        secrets: see Profile.tool_env)."""
        return self.profile.tool_env
