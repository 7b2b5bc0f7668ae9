"""Homes, profiles, first-use layout, .env files and load_profile."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hermes.config import load_settings, parse_settings
from hermes.envfile import parse_env_text, read_env_file, set_env_value
from hermes.errors import ConfigError, HermesError
from hermes.home import ensure_home, load_profile, resolve_home
from hermes.settings import Settings

TEMPLATE = Path(__file__).resolve().parents[1] / "hermes" / "defaults" / "config.yaml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- resolving homes -------------------------------------------------------------


def test_default_home_is_dot_hermes_under_home(tmp_path: Path) -> None:
    assert resolve_home(None, {"HOME": str(tmp_path)}) == ("default", tmp_path / ".hermes")


def test_hermes_home_wins_and_default_profile_is_the_root(tmp_path: Path) -> None:
    env = {"HOME": "/nowhere", "HERMES_HOME": str(tmp_path / "h")}
    assert resolve_home(None, env) == ("default", tmp_path / "h")
    assert resolve_home("default", env) == ("default", tmp_path / "h")


def test_named_profile_lives_under_profiles(tmp_path: Path) -> None:
    (tmp_path / ".hermes" / "profiles" / "work-2_x").mkdir(parents=True)
    (tmp_path / "h" / "profiles" / "coder").mkdir(parents=True)
    assert resolve_home("work-2_x", {"HOME": str(tmp_path)}) == (
        "work-2_x",
        tmp_path / ".hermes" / "profiles" / "work-2_x",
    )
    env = {"HERMES_HOME": str(tmp_path / "h")}
    assert resolve_home("coder", env)[1] == tmp_path / "h" / "profiles" / "coder"


def test_tilde_in_hermes_home_uses_the_given_home(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "HERMES_HOME": "~/agent"}
    assert resolve_home(None, env)[1] == tmp_path / "agent"


@pytest.mark.parametrize("name", ["Work", "", "a/b", "../x", "-x", "a b", "x" * 65, "é"])
def test_bad_profile_name_is_a_one_line_error(name: str, tmp_path: Path) -> None:
    with pytest.raises(HermesError) as info:
        resolve_home(name, {"HOME": str(tmp_path)})
    message = str(info.value)
    assert "\n" not in message
    assert "invalid profile name" in message and "lowercase" in message


def test_longest_profile_name_is_accepted(tmp_path: Path) -> None:
    (tmp_path / ".hermes" / "profiles" / ("a" * 64)).mkdir(parents=True)
    assert resolve_home("a" * 64, {"HOME": str(tmp_path)})[0] == "a" * 64


def test_a_named_profile_that_does_not_exist_is_an_error_not_a_new_home(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    root = tmp_path / ".hermes"
    for call in (lambda: resolve_home("nosuch", env), lambda: load_profile("nosuch", env=env)):
        with pytest.raises(HermesError) as info:
            call()
        assert str(info.value) == (
            f"no profile named 'nosuch' in {root / 'profiles'}; see `hermes profile list`, "
            "or create it with `hermes profile create nosuch`"
        )
    assert not (root / "profiles").exists()
    assert load_profile("default", env=env).home == root  # the root home is made on first use


# --- first-use layout -------------------------------------------------------------


def test_ensure_home_creates_the_layout_with_private_modes(tmp_path: Path) -> None:
    home = tmp_path / "h" / "profiles" / "p"
    ensure_home(home)
    for directory in (home, home / "memories", home / "skills", home / "workspace", home / "logs"):
        assert directory.is_dir()
        assert mode(directory) == 0o700
    assert mode(home / ".env") == 0o600
    assert read_env_file(home / ".env") == {}
    assert (home / ".env").read_text().startswith("#")
    assert (home / "config.yaml").read_text() == TEMPLATE.read_text()
    assert "Hermes" in (home / "SOUL.md").read_text()
    assert (home / "memories" / "MEMORY.md").read_text() == ""
    assert (home / "memories" / "USER.md").read_text() == ""


def test_ensure_home_is_idempotent_and_never_overwrites(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ensure_home(home)
    mine = {
        "config.yaml": "model:\n  model: mine\n",
        ".env": "KEY=mine\n",
        "SOUL.md": "my persona\n",
        "memories/MEMORY.md": "remember this\n",
    }
    for name, text in mine.items():
        (home / name).write_text(text)
    (home / "memories" / "USER.md").unlink()
    ensure_home(home)
    ensure_home(home)
    for name, text in mine.items():
        assert (home / name).read_text() == text
    assert (home / "memories" / "USER.md").read_text() == ""  # a missing file comes back


def test_template_uses_the_defaults_and_its_example_is_valid() -> None:
    text = TEMPLATE.read_text()
    assert load_settings(TEMPLATE) == Settings()
    example = text[text.index("# model:") :].splitlines()
    uncommented = "\n".join(line.removeprefix("#").removeprefix(" ") for line in example)
    settings = parse_settings(uncommented, "template")
    assert settings.model.provider == "openrouter"
    assert settings.approvals.channels == ["origin"]
    assert settings.gateway.profile_routes == {"telegram": {"-1003961179976": {"6": "career"}}}
    assert settings.server.port == 8420


# --- .env files ---------------------------------------------------------------------


def test_env_file_syntax() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            "PLAIN=abc123",
            "export EXPORTED=yes",
            "SPACED = value with spaces  # a comment",
            "HASH=a#b",
            "SINGLE='it is # literal \\n'",
            'DOUBLE="line1\\nline2 \\"q\\" # not a comment"  # comment',
            "EMPTY=",
            "EMPTY_COMMENT= # nothing",
            "URL=https://x.example/?a=b&c=d",
            "PLAIN=second wins",
        ]
    )
    assert parse_env_text(text, ".env") == {
        "PLAIN": "second wins",
        "EXPORTED": "yes",
        "SPACED": "value with spaces",
        "HASH": "a#b",
        "SINGLE": "it is # literal \\n",
        "DOUBLE": 'line1\nline2 "q" # not a comment',
        "EMPTY": "",
        "EMPTY_COMMENT": "",
        "URL": "https://x.example/?a=b&c=d",
    }


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("JUSTAWORD", "expected KEY=VALUE"),
        ("1BAD=x", "expected KEY=VALUE"),
        ('KEY="unterminated', "never closed"),
        ("KEY='x' trailing", "after the closing quote"),
    ],
)
def test_malformed_env_line_names_file_and_line(line: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(f"# header\nOK=1\n{line}\n")
    with pytest.raises(ConfigError) as info:
        read_env_file(path)
    message = str(info.value)
    assert message.startswith(f"{path} line 3: ")
    assert problem in message and "KEY=VALUE" in message
    assert "\n" not in message


def test_set_env_value_replaces_appends_and_keeps_0600(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# my keys\nexport A=1\nB=2\nA=3\n")
    path.chmod(0o644)
    set_env_value(path, "A", "new")
    set_env_value(path, "C", 'tricky "value" # with\nnewline\\')
    assert path.read_text().startswith("# my keys\nA=new\nB=2\nC=")
    assert read_env_file(path) == {"A": "new", "B": "2", "C": 'tricky "value" # with\nnewline\\'}
    assert mode(path) == 0o600
    fresh = tmp_path / "fresh.env"
    set_env_value(fresh, "TOKEN", "abc:def")
    assert fresh.read_text() == "TOKEN=abc:def\n"
    assert mode(fresh) == 0o600
    with pytest.raises(ConfigError):
        set_env_value(path, "BAD KEY", "x")


# --- load_profile ---------------------------------------------------------------------


def test_load_profile_overlays_dotenv_on_inherited_env(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "SHARED": "shell", "ONLY_SHELL": "1"}
    home = tmp_path / ".hermes" / "profiles" / "coder"
    ensure_home(home)
    (home / ".env").write_text("SHARED=dotenv\nONLY_DOTENV=2\n")
    (home / "config.yaml").write_text("model:\n  model: some/model\n")
    profile = load_profile("coder", env=env)
    assert profile.name == "coder"
    assert profile.home == home
    assert profile.settings.model.model == "some/model"
    assert profile.env["SHARED"] == "dotenv"
    assert profile.env["ONLY_SHELL"] == "1"
    assert profile.env["ONLY_DOTENV"] == "2"
    assert env == {"HOME": str(tmp_path), "SHARED": "shell", "ONLY_SHELL": "1"}


def test_load_profile_reads_but_never_changes_os_environ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERMES_HOME", str(tmp_path / "h"))
    ensure_home(tmp_path / "h")
    (tmp_path / "h" / ".env").write_text("HERMES_TEST_SECRET=s3cret\n")
    before = dict(os.environ)
    profile = load_profile()
    assert profile.name == "default"
    assert profile.home == tmp_path / "h"
    assert profile.env["HERMES_TEST_SECRET"] == "s3cret"
    assert dict(os.environ) == before
    assert "HERMES_TEST_SECRET" not in os.environ


def test_load_profile_creates_a_missing_home(tmp_path: Path) -> None:
    profile = load_profile(env={"HERMES_HOME": str(tmp_path / "new")})
    assert (tmp_path / "new" / "config.yaml").is_file()
    assert profile.settings == Settings()
    assert profile.workspace == tmp_path / "new" / "workspace"


def test_background_notifications_variable_overrides_config(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ensure_home(home)
    (home / "config.yaml").write_text("display:\n  background_process_notifications: all\n")
    (home / ".env").write_text("HERMES_BACKGROUND_NOTIFICATIONS=error\n")
    profile = load_profile(env={"HERMES_HOME": str(home)})
    assert profile.settings.display.background_process_notifications == "error"
    (home / ".env").write_text("HERMES_BACKGROUND_NOTIFICATIONS=loud\n")
    with pytest.raises(ConfigError, match="HERMES_BACKGROUND_NOTIFICATIONS: 'loud' is not one"):
        load_profile(env={"HERMES_HOME": str(home)})


def test_load_profile_reports_a_bad_config_with_file_and_line(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ensure_home(home)
    (home / "config.yaml").write_text("server:\n  port: high\n")
    with pytest.raises(ConfigError) as info:
        load_profile(env={"HERMES_HOME": str(home)})
    assert str(info.value) == (
        f"{home / 'config.yaml'} line 2: server.port: expected an integer, got 'high'"
    )


def test_terminal_cwd_relative_is_under_the_home_and_tilde_is_the_users(tmp_path: Path) -> None:
    from hermes.context import Profile
    from hermes.settings import Settings, TerminalSettings

    def workspace(cwd: str | None) -> Path:
        settings = Settings(terminal=TerminalSettings(cwd=cwd))
        return Profile("default", tmp_path / "h", settings, {"HOME": "/home/ada"}).workspace

    assert workspace(None) == tmp_path / "h" / "workspace"
    assert workspace("projects") == tmp_path / "h" / "projects"
    assert workspace("~/code") == Path("/home/ada/code")
    assert workspace("/srv/x") == Path("/srv/x")
