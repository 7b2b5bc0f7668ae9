"""`hermes profile ...` end to end, as a user runs it: real CLI processes on a
tmp root home and a tmp $HOME (for ~/.local/bin)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hermes.pidfile import home_lock
from hermes.skills_sync import bundled_skills

REPO = Path(__file__).resolve().parents[1]
BUNDLED = bundled_skills()


class Machine:
    """A user account: $HOME, the Hermes root home, and a way to run commands."""

    def __init__(self, tmp_path: Path) -> None:
        self.home = tmp_path / "user"
        self.root = tmp_path / "root"
        self.bin = self.home / ".local" / "bin"
        self.home.mkdir()
        self.env = {
            "HOME": str(self.home),
            "HERMES_HOME": str(self.root),
            "PATH": f"{self.bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HERMES_SYSTEMD_SYSTEM_DIR": str(tmp_path / "system-units"),
        }

    def profile(self, name: str) -> Path:
        return self.root / "profiles" / name

    def run(
        self, *args: str, env: dict[str, str] | None = None, exe: list[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*(exe or [sys.executable, "-m", "hermes"]), *args],
            capture_output=True,
            text=True,
            env=self.env if env is None else env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def fails(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 1, result.stdout
        assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
        return result.stderr


@pytest.fixture
def m(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- create -----------------------------------------------------------------------------


def test_create_makes_a_private_home_with_skills_and_a_working_command(m: Machine) -> None:
    out = m.ok("profile", "create", "coder")
    home = m.profile("coder")
    assert str(home) in out
    assert "coder setup" in out  # the next step, with the new command
    for folder in (home, home / "memories", home / "skills", home / "workspace", home / "logs"):
        assert mode(folder) == 0o700
    for file in ("config.yaml", ".env", "SOUL.md", "memories/MEMORY.md", "memories/USER.md"):
        assert mode(home / file) == 0o600
    assert BUNDLED and all((home / "skills" / s / "SKILL.md").is_file() for s in BUNDLED)

    wrapper = m.bin / "coder"
    assert str(wrapper) in out
    assert mode(wrapper) & 0o111
    # the wrapper works from anywhere, even without HERMES_HOME in the environment
    env = {k: v for k, v in m.env.items() if k != "HERMES_HOME"}
    result = m.run("config", "path", env=env, exe=[str(wrapper)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(home / "config.yaml")
    assert m.run("version", exe=[str(wrapper)]).stdout.startswith("hermes ")


def test_create_refuses_an_existing_profile_a_bad_name_and_default(m: Machine) -> None:
    m.ok("profile", "create", "coder", "--no-alias")
    assert "already exists" in m.fails("profile", "create", "coder")
    assert "invalid profile name" in m.fails("profile", "create", "Coder")
    assert "default" in m.fails("profile", "create", "default")


def test_no_alias_and_path_hint(m: Machine) -> None:
    m.ok("profile", "create", "quiet", "--no-alias")
    assert not (m.bin / "quiet").exists()
    env = {**m.env, "PATH": "/usr/bin:/bin"}
    result = m.run("profile", "create", "loud", env=env)
    assert result.returncode == 0, result.stderr
    assert (m.bin / "loud").is_file()
    assert "not on your PATH" in result.stdout
    assert "hermes -p loud setup" in result.stdout


def test_create_never_overwrites_a_foreign_command(m: Machine) -> None:
    m.bin.mkdir(parents=True)
    (m.bin / "coder").write_text("#!/bin/sh\necho mine\n")
    result = m.run("profile", "create", "coder")
    assert result.returncode == 0, result.stderr
    assert m.profile("coder").is_dir()  # the profile is still created
    assert (m.bin / "coder").read_text() == "#!/bin/sh\necho mine\n"
    assert "warning" in result.stderr and "--no-alias" in result.stderr
    assert "hermes -p coder setup" in result.stdout


def test_clone_copies_setup_not_data(m: Machine) -> None:
    m.ok("config", "path")  # creates the default home
    (m.root / "config.yaml").write_text("model:\n  provider: openai\n  model: gpt-5\n")
    (m.root / ".env").write_text("OPENAI_API_KEY=sk-test\n")
    (m.root / "SOUL.md").write_text("You are a pirate.\n")
    (m.root / "memories" / "MEMORY.md").write_text("private memory\n")
    (m.root / "state.db").write_bytes(b"")

    m.ok("profile", "create", "twin", "--clone", "--no-alias")
    twin = m.profile("twin")
    assert (twin / "config.yaml").read_text() == (m.root / "config.yaml").read_text()
    assert (twin / ".env").read_text() == "OPENAI_API_KEY=sk-test\n"
    assert mode(twin / ".env") == 0o600
    assert (twin / "SOUL.md").read_text() == "You are a pirate.\n"
    assert (twin / "memories" / "MEMORY.md").read_text() == ""
    assert not (twin / "state.db").exists()

    # -p picks the profile to clone from
    (twin / "SOUL.md").write_text("You are a twin.\n")
    m.ok("-p", "twin", "profile", "create", "triplet", "--clone", "--no-alias")
    assert (m.profile("triplet") / "SOUL.md").read_text() == "You are a twin.\n"


# --- list, show -------------------------------------------------------------------------


def test_list_shows_model_active_and_stopped_gateways(m: Machine) -> None:
    m.ok("profile", "create", "coder", "--no-alias")
    m.ok("profile", "create", "broken", "--no-alias")
    (m.profile("coder") / "config.yaml").write_text("model:\n  provider: openai\n  model: gpt-5\n")
    (m.profile("broken") / "config.yaml").write_text("model: [\n")
    m.ok("profile", "use", "coder")

    lines = m.ok("profile", "list").splitlines()
    rows = {line.split()[1] if line.startswith("*") else line.split()[0]: line for line in lines}
    assert rows["coder"].startswith("*") and "openai:gpt-5" in rows["coder"]
    assert "config error" in rows["broken"]
    assert "default" in rows and not rows["default"].startswith("*")
    assert all("stopped" in rows[name] for name in ("default", "coder", "broken"))

    data = json.loads(m.ok("profile", "list", "--json"))
    by_name = {p["name"]: p for p in data}
    assert [p["name"] for p in data] == ["default", "broken", "coder"]
    assert by_name["coder"]["active"] is True
    assert by_name["coder"]["model"] == "openai:gpt-5"
    assert by_name["broken"]["model"] is None and by_name["broken"]["config_error"]
    assert by_name["coder"]["gateway"] == "stopped" and by_name["coder"]["pid"] is None


@pytest.fixture
def coder(m: Machine) -> Machine:
    m.ok("profile", "create", "coder")
    return m


def test_running_gateway_is_shown_with_pid_and_platforms(coder: Machine) -> None:
    home = coder.profile("coder")
    with home_lock(home):
        state = {"pid": os.getpid(), "url": "http://127.0.0.1:1", "platforms": {"telegram": "up"}}
        (home / "gateway.json").write_text(json.dumps(state))
        listed = coder.ok("profile", "list")
        data = {p["name"]: p for p in json.loads(coder.ok("profile", "list", "--json"))}
        shown = coder.ok("profile", "show", "coder")
    line = next(x for x in listed.splitlines() if " coder " in f" {x} ")
    assert f"running (pid {os.getpid()})" in line and "telegram" in line
    assert data["coder"]["pid"] == os.getpid() and data["coder"]["platforms"] == {"telegram": "up"}
    assert data["default"]["gateway"] == "stopped"
    assert f"running (pid {os.getpid()})" in shown


async def test_show_gives_home_service_sessions_skills_and_command(coder: Machine) -> None:
    from hermes.store import Store

    home = coder.profile("coder")
    store = await Store.open(home / "state.db")
    for _ in range(2):
        await store.create_session(source="cli")
    await store.close()
    out = coder.ok("profile", "show", "coder")
    fields = dict(line.split(maxsplit=1) for line in out.splitlines())
    assert fields["Home:"] == str(home)
    assert fields["Model:"] == "local:SmolLM2-135M-Instruct"
    assert fields["Gateway:"] == "stopped"
    assert fields["Service:"] == "hermes-gateway-coder.service"
    assert fields["Sessions:"] == "2"
    assert fields["Skills:"] == str(len(BUNDLED))
    assert fields["Command:"] == str(coder.bin / "coder")
    default = coder.ok("profile", "show", "default")
    assert "hermes-gateway.service" in default
    assert "no profile named 'nope'" in coder.fails("profile", "show", "nope")


# --- use --------------------------------------------------------------------------------


def test_use_makes_a_profile_sticky_and_p_still_wins(coder: Machine) -> None:
    m = coder
    root_config = str(m.root / "config.yaml")
    coder_config = str(m.profile("coder") / "config.yaml")
    assert m.ok("config", "path").strip() == root_config
    m.ok("profile", "use", "coder")
    assert (m.root / "active_profile").read_text().strip() == "coder"
    assert m.ok("config", "path").strip() == coder_config
    assert m.ok("-p", "default", "config", "path").strip() == root_config
    m.ok("profile", "create", "other", "--no-alias")
    assert m.ok("-p", "other", "config", "path").strip() == str(m.profile("other") / "config.yaml")

    m.ok("profile", "use", "default")
    assert not (m.root / "active_profile").exists()
    assert m.ok("config", "path").strip() == root_config
    assert "no profile named 'ghost'" in m.fails("profile", "use", "ghost")


def test_a_stale_active_profile_is_one_clear_error(m: Machine) -> None:
    m.ok("config", "path")
    (m.root / "active_profile").write_text("gone\n")
    assert "hermes profile use default" in m.fails("config", "path")
    result = m.run("profile", "list")  # still lists, and says how to fix it
    assert result.returncode == 0 and "hermes profile use default" in result.stderr
    m.ok("profile", "use", "default")
    assert m.ok("config", "path").strip() == str(m.root / "config.yaml")


MISSING_PROFILE_COMMANDS = (
    ("-z", "hi"),
    ("chat",),
    ("config", "path"),
    ("config", "set", "model.model", "x/y"),
    ("config", "show"),
    ("doctor",),
    ("setup", "--provider", "local"),
    ("sessions", "list"),
    ("logs",),
    ("gateway", "run"),
    ("gateway", "start"),
    ("gateway", "install"),
    ("cron", "list"),
    ("tasks", "list"),
    ("approvals", "list"),
    ("pairing", "list"),
    ("profile", "create", "copy", "--clone"),
    ("mcp", "serve", "--stdio"),
    ("send", "web:1", "hi"),
)


@pytest.mark.parametrize("args", MISSING_PROFILE_COMMANDS, ids=" ".join)
def test_p_with_a_profile_that_does_not_exist_fails_and_creates_nothing(
    m: Machine, args: tuple[str, ...]
) -> None:
    m.ok("config", "path")  # the root home exists; profile "nosuch" does not
    expected = m.fails("profile", "use", "nosuch")
    assert m.fails("-p", "nosuch", *args) == expected
    assert m.fails(*args, "--profile", "nosuch") == expected  # the option after the command
    assert not m.profile("nosuch").exists()
    assert not m.profile("copy").exists()


def test_the_command_of_a_profile_removed_by_hand_fails_instead_of_recreating_it(
    coder: Machine,
) -> None:
    import shutil

    expected = coder.fails("profile", "use", "ghost").replace("'ghost'", "'coder'")
    expected = expected.replace("profile create ghost", "profile create coder")
    shutil.rmtree(coder.profile("coder"))
    result = coder.run("config", "path", exe=[str(coder.bin / "coder")])
    assert (result.returncode, result.stderr) == (1, expected)
    assert not coder.profile("coder").exists()


# --- delete -----------------------------------------------------------------------------


def test_delete_needs_confirmation_then_removes_home_command_and_choice(coder: Machine) -> None:
    m = coder
    m.ok("profile", "use", "coder")
    assert "--yes" in m.fails("profile", "delete", "coder")  # stdin is not a terminal
    assert m.profile("coder").is_dir()
    out = m.ok("profile", "delete", "coder", "--yes")
    assert "Deleted profile coder" in out
    assert not m.profile("coder").exists()
    assert not (m.bin / "coder").exists()
    assert not (m.root / "active_profile").exists()
    assert m.ok("config", "path").strip() == str(m.root / "config.yaml")
    assert "cannot be deleted" in m.fails("profile", "delete", "default", "--yes")
    assert "no profile named 'coder'" in m.fails("profile", "delete", "coder", "--yes")


def test_delete_asks_on_a_terminal(coder: Machine) -> None:
    for answer, kept in (("n\n", True), ("y\n", False)):
        leader, follower = os.openpty()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "hermes", "profile", "delete", "coder"],
                stdin=follower,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=coder.env,
                cwd=REPO,
            )
            os.write(leader, answer.encode())
            process.communicate(timeout=60)
        finally:
            os.close(leader)
            os.close(follower)
        assert process.returncode == (1 if kept else 0)
        assert coder.profile("coder").is_dir() is kept


def test_delete_and_rename_refuse_a_running_gateway(coder: Machine) -> None:
    with home_lock(coder.profile("coder")):
        error = coder.fails("profile", "delete", "coder", "--yes")
        assert f"pid {os.getpid()}" in error and "coder gateway stop" in error
        error = coder.fails("profile", "rename", "coder", "dev")
        assert f"pid {os.getpid()}" in error
    assert coder.profile("coder").is_dir() and (coder.bin / "coder").is_file()


def test_delete_and_rename_refuse_while_its_service_is_installed(coder: Machine) -> None:
    units = coder.home / ".config" / "systemd" / "user"
    units.mkdir(parents=True)
    (units / "hermes-gateway-coder.service").write_text("[Unit]\n")
    assert "coder gateway uninstall" in coder.fails("profile", "delete", "coder", "--yes")
    assert "coder gateway uninstall" in coder.fails("profile", "rename", "coder", "dev")
    assert coder.profile("coder").is_dir()


# --- rename -----------------------------------------------------------------------------


def test_rename_moves_home_command_and_choice(coder: Machine) -> None:
    m = coder
    m.ok("profile", "use", "coder")
    (m.profile("coder") / "SOUL.md").write_text("I am the coder.\n")
    out = m.ok("profile", "rename", "coder", "dev")
    assert str(m.profile("dev")) in out
    assert not m.profile("coder").exists()
    assert (m.profile("dev") / "SOUL.md").read_text() == "I am the coder.\n"
    assert not (m.bin / "coder").exists()
    result = m.run("config", "path", exe=[str(m.bin / "dev")])
    assert result.stdout.strip() == str(m.profile("dev") / "config.yaml")
    assert (m.root / "active_profile").read_text().strip() == "dev"
    assert m.ok("config", "path").strip() == str(m.profile("dev") / "config.yaml")

    m.ok("profile", "create", "other", "--no-alias")
    assert "already exists" in m.fails("profile", "rename", "dev", "other")
    assert "cannot be renamed" in m.fails("profile", "rename", "default", "x")
    assert "cannot be renamed" in m.fails("profile", "rename", "dev", "default")
    m.ok("profile", "rename", "other", "third")  # it had no command: none is made
    assert not (m.bin / "other").exists() and not (m.bin / "third").exists()
