"""`hermes config ...` end to end, as a user runs it."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import yaml

from tests.cli_helpers import run_hermes

REPO = Path(__file__).resolve().parents[1]


hermes = partial(run_hermes, clean=True, env={"PATH": "/usr/bin:/bin"}, cwd=REPO)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "hermes-home"


def test_config_path_creates_the_home(home: Path) -> None:
    result = hermes(home, "config", "path")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{home / 'config.yaml'}\n"
    assert (home / "config.yaml").is_file()
    assert (home / ".env").is_file()


def test_set_then_get(home: Path) -> None:
    result = hermes(home, "config", "set", "model.model", "openai/gpt-5")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "model.model = openai/gpt-5\n"
    result = hermes(home, "config", "get", "model.model")
    assert (result.returncode, result.stdout) == (0, "openai/gpt-5\n")
    assert "# Hermes configuration" in (home / "config.yaml").read_text()  # template kept
    assert hermes(home, "config", "get", "model.provider").stdout == "null\n"
    assert hermes(home, "config", "get", "display.streaming").stdout == "true\n"
    channels = hermes(home, "config", "get", "approvals.channels").stdout
    assert yaml.safe_load(channels) == ["origin"]


def test_set_invalid_value_fails_with_one_line(home: Path) -> None:
    hermes(home, "config", "path")
    before = (home / "config.yaml").read_bytes()
    result = hermes(home, "config", "set", "server.port", "notanumber")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "server.port" in result.stderr and "integer" in result.stderr
    assert "Traceback" not in result.stderr
    assert (home / "config.yaml").read_bytes() == before


def test_show_prints_the_effective_settings_as_yaml(home: Path) -> None:
    hermes(home, "config", "set", "server.port", "9001")
    result = hermes(home, "config", "show")
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["server"] == {"host": "127.0.0.1", "port": 9001}
    assert shown["model"]["provider"] is None


def test_profiles_are_separate(home: Path) -> None:
    assert hermes(home, "profile", "create", "coder", "--no-alias").returncode == 0
    result = hermes(home, "-p", "coder", "config", "set", "model.model", "x/y")
    assert result.returncode == 0, result.stderr
    assert hermes(home, "-p", "coder", "config", "get", "model.model").stdout == "x/y\n"
    assert hermes(home, "config", "get", "model.model").stdout == "null\n"
    path = hermes(home, "--profile", "coder", "config", "path").stdout
    assert path == f"{home / 'profiles' / 'coder' / 'config.yaml'}\n"
    bad = hermes(home, "-p", "No Good", "config", "path")
    assert bad.returncode == 1 and "invalid profile name" in bad.stderr


def test_broken_config_and_unknown_keys_are_one_line_errors(home: Path) -> None:
    unknown = hermes(home, "config", "get", "modle.model")
    assert unknown.returncode == 1
    assert unknown.stderr == "hermes: unknown key 'modle' (did you mean 'model'?)\n"
    (home / "config.yaml").write_text("server:\n  port: [1\n")
    for args in (("show",), ("get", "server.port")):
        result = hermes(home, "config", *args)
        assert result.returncode == 1
        assert result.stderr.startswith(f"hermes: {home / 'config.yaml'} line ")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_set_of_an_unknown_time_zone_is_refused_and_the_file_unchanged(home: Path) -> None:
    hermes(home, "config", "set", "cron.timezone", "Europe/Berlin")
    before = (home / "config.yaml").read_bytes()
    result = hermes(home, "config", "set", "cron.timezone", "Mars/Olympus")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"hermes: {home / 'config.yaml'}: cannot set cron.timezone: unknown time zone "
        '"Mars/Olympus"; use an IANA name such as Europe/Berlin\n'
    )
    assert (home / "config.yaml").read_bytes() == before
    assert hermes(home, "cron", "list").returncode == 0


def test_set_of_a_route_to_an_invalid_profile_name_is_refused(home: Path) -> None:
    hermes(home, "config", "path")
    before = (home / "config.yaml").read_bytes()
    result = hermes(home, "config", "set", "gateway.profile_routes.telegram.555", "Not A Name")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "cannot set gateway.profile_routes.telegram.555: invalid profile name" in result.stderr
    assert (home / "config.yaml").read_bytes() == before


def test_a_hand_edited_bad_time_zone_fails_doctor_with_the_line_the_gateway_gives(
    home: Path,
) -> None:
    hermes(home, "config", "path")
    config = home / "config.yaml"
    config.write_text(config.read_text() + "cron:\n  timezone: Mars/Olympus\n")
    line = config.read_text().splitlines().index("  timezone: Mars/Olympus") + 1
    error = (
        f'{config} line {line}: cron.timezone: unknown time zone "Mars/Olympus"; '
        "use an IANA name such as Europe/Berlin"
    )
    for args in (("gateway", "run"), ("cron", "list"), ("config", "show")):
        result = hermes(home, *args)
        assert (result.returncode, result.stderr) == (1, f"hermes: {error}\n"), args
    doctor = hermes(home, "doctor")
    assert doctor.returncode == 1
    assert f"✗ config.yaml is invalid: {error}" in doctor.stdout
    assert "config.yaml valid" not in doctor.stdout
    # the gateway's refusal is in its error log too, for a service nobody watches
    assert error in (home / "logs" / "gateway.error.log").read_text().replace('\\"', '"')
