"""config.yaml: loading, validation errors, dotted reads and `config set` edits."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, get_origin

import pytest

from hermes import platforms
from hermes.config import get_dotted, load_settings, parse_settings, settings_to_dict
from hermes.config_edit import parse_raw, set_value
from hermes.errors import ConfigError
from hermes.platforms import telegram
from hermes.platforms.spec import section
from hermes.settings import Settings

TEMPLATE = Path(__file__).resolve().parents[1] / "hermes" / "defaults" / "config.yaml"


def error_of(text: str, tmp_path: Path) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message
    return message.replace(str(path), "FILE")


# --- loading ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "# only a comment\n", "model:\nserver:\n"])
def test_missing_empty_or_bare_sections_give_defaults(text: str | None, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    if text is not None:
        path.write_text(text)
    assert load_settings(path) == Settings()


def test_values_are_typed(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "model:\n  provider: anthropic\n  timeout: 30\n"
        "display:\n  background_process_notifications: off\n  streaming: false\n"
        "approvals:\n  mode: off\n  channels: [origin, 'telegram:5']\n"
        "server:\n  port:\n"  # empty: keeps the default
        "gateway:\n  profile_routes:\n    telegram:\n      -1003961179976:\n        6: career\n"
        "    discord:\n      '789': my-agent\n"
        "telegram:\n  topic_profiles: {'-100:6': career}\n"
    )
    settings = load_settings(path)
    assert settings.model.provider == "anthropic"
    assert settings.model.timeout == 30.0 and isinstance(settings.model.timeout, float)
    assert settings.display.background_process_notifications == "off"
    assert settings.display.streaming is False
    assert settings.approvals.mode == "off"
    assert settings.approvals.channels == ["origin", "telegram:5"]
    assert settings.server.port == 8420
    assert settings.gateway.profile_routes == {
        "telegram": {"-1003961179976": {"6": "career"}},
        "discord": {"789": "my-agent"},
    }
    assert section(settings, telegram.PLATFORM).topic_profiles == {"-100:6": "career"}


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    message = error_of("model:\n  provider: openai\n  model: [a, b\nserver: {}\n", tmp_path)
    assert message.startswith("FILE line ")
    assert "invalid YAML" in message
    assert error_of("model:\n\tprovider: x\n", tmp_path).startswith("FILE line 2: invalid YAML")


def test_unknown_keys_suggest_the_closest_name(tmp_path: Path) -> None:
    assert error_of("model: {}\nserver: {}\n\nmodle:\n  x: 1\n", tmp_path) == (
        "FILE line 4: unknown key 'modle' (did you mean 'model'?)"
    )
    assert error_of("model:\n  provder: openai\n", tmp_path) == (
        "FILE line 2: unknown key 'model.provder' (did you mean 'model.provider'?)"
    )
    message = error_of("server:\n  zzz: 1\n", tmp_path)
    assert message == "FILE line 2: unknown key 'server.zzz' (valid keys under server: host, port)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "model:\n  provider: openrouterr\n",
            "FILE line 2: model.provider: 'openrouterr' is not one of "
            "openrouter, openai, anthropic, nous, custom, local",
        ),
        ("server:\n  port: notanumber\n", "FILE line 2: server.port: expected an integer, got "),
        ("server:\n  port: 1.5\n", "FILE line 2: server.port: expected an integer, got '1.5'"),
        ("server:\n  port: true\n", "FILE line 2: server.port: expected an integer, got 'true'"),
        ("display:\n  streaming: 1\n", "FILE line 2: display.streaming: expected true or false"),
        ("display:\n  streaming: 'true'\n", "FILE line 2: display.streaming: expected true or"),
        ("model:\n  timeout: fast\n", "FILE line 2: model.timeout: expected a number, got 'fast'"),
        ("model:\n  model: [a]\n", "FILE line 2: model.model: expected a string, got a list"),
        ("approvals:\n  channels: origin\n", "FILE line 2: approvals.channels: expected a list"),
        ("approvals:\n  channels:\n    - {a: 1}\n", "FILE line 3: approvals.channels[0]: expected"),
        ("server: 8420\n", "FILE line 1: server: expected a mapping, got '8420'"),
        ("- model\n", "FILE line 1: expected sections like 'model:', got a list"),
        (
            "telegram:\n  topic_profiles:\n    a: [x]\n",
            "FILE line 3: telegram.topic_profiles.a: expected a string, got a list",
        ),
        (
            "gateway:\n  profile_routes:\n    telegram:\n      '-100':\n        '6': [x]\n",
            "FILE line 5: gateway.profile_routes.telegram.-100.6: expected a string, got a list",
        ),
        (
            "gateway:\n  profile_routes:\n    telegram: [x]\n",
            "FILE line 3: gateway.profile_routes.telegram: expected a mapping, got a list",
        ),
        (
            "model:\n  model: a\nserver: {}\nmodel:\n  model: b\n",
            "FILE line 4: duplicate key 'model' (also on line 1); keep only one",
        ),
    ],
)
def test_invalid_values_are_one_line_with_line_and_key(
    text: str, expected: str, tmp_path: Path
) -> None:
    assert error_of(text, tmp_path).startswith(expected)


def _leaves(cls: type, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for name, tp in typing.get_type_hints(cls).items():
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out += _leaves(tp, f"{prefix}{name}.")
        else:
            out.append((f"{prefix}{name}", tp))
    return out


def _every_leaf() -> list[tuple[str, Any]]:
    """Every setting: those of `Settings` and of each platform's section."""
    found = _leaves(Settings)
    for declared in platforms.every():
        if declared.settings is not None:
            found += _leaves(declared.settings, f"{declared.name}.")
    return found


@pytest.mark.parametrize("key", [k for k, tp in _every_leaf() if get_origin(tp) is not dict])
def test_every_scalar_or_list_setting_rejects_a_mapping(key: str, tmp_path: Path) -> None:
    *sections, name = key.split(".")  # terminal.ssh.host: a section within a section
    nested = "".join(f"{'  ' * depth}{section}:\n" for depth, section in enumerate(sections))
    message = error_of(f"# header\n{nested}{'  ' * len(sections)}{name}: {{a: 1}}\n", tmp_path)
    assert message.startswith(f"FILE line {len(sections) + 2}: {key}: ")
    assert "got a mapping" in message


# --- reading values -------------------------------------------------------------------


def test_get_dotted_and_settings_to_dict() -> None:
    settings = parse_settings("gateway:\n  profile_routes:\n    telegram: {'1': p}\n", "x")
    assert get_dotted(settings, "server.port") == 8420
    assert get_dotted(settings, "model.provider") is None
    assert get_dotted(settings, "gateway.profile_routes.telegram.1") == "p"
    assert get_dotted(settings, "server") == settings.server
    assert settings_to_dict(settings)["approvals"] == {
        "mode": "ask",
        "low_risk_auto_approve_seconds": 300,
        "channels": ["origin"],
        "deciders": [],
    }
    with pytest.raises(ConfigError, match=r"unknown key 'modle' \(did you mean 'model'\?\)"):
        get_dotted(settings, "modle")
    with pytest.raises(ConfigError, match="valid keys under server: host, port"):
        get_dotted(settings, "server.xyz")
    with pytest.raises(ConfigError, match="has no key 'x'"):
        get_dotted(settings, "server.port.x")


# --- setting values -------------------------------------------------------------------


def test_parse_raw_reads_command_line_values() -> None:
    assert parse_raw("true") is True
    assert parse_raw("8420") == 8420
    assert parse_raw("0.5") == 0.5
    assert parse_raw("null") is None
    assert parse_raw("[origin, 'telegram:1']") == ["origin", "telegram:1"]
    assert parse_raw("'8420'") == "8420"
    for plain in ("openai/gpt-5", "off", "1:30", "Europe/Berlin", "http://h:1/v1", "a: b"):
        assert parse_raw(plain) == plain
    with pytest.raises(ConfigError, match="cannot read the value"):
        parse_raw("[unclosed")


USER_FILE = """\
# My settings
model:
  provider: openrouter   # cheapest
  model: anthropic/claude-sonnet-4

# where commands run
terminal:
  backend: local
  timeout: 180   # seconds

approvals:
  channels:
    - origin   # the chat that asked
server:
  port: 8420
"""


def test_set_keeps_comments_order_and_formatting(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(USER_FILE)
    assert set_value(path, "model.model", "openai/gpt-5") == "openai/gpt-5"
    assert set_value(path, "model.provider", "openai") == "openai"
    assert set_value(path, "terminal.cwd", "/srv/work") == "/srv/work"
    assert set_value(path, "approvals.mode", "off") == "off"
    assert set_value(path, "server.port", "9000") == 9000
    assert set_value(path, "gateway.profile_routes.telegram.-100.6", "career") == "career"
    assert path.read_text() == (
        "# My settings\n"
        "model:\n"
        "  provider: openai       # cheapest\n"
        "  model: openai/gpt-5\n"
        "\n"
        "# where commands run\n"
        "terminal:\n"
        "  backend: local\n"
        "  timeout: 180   # seconds\n"
        "  cwd: /srv/work\n"
        "\n"
        "approvals:\n"
        "  channels:\n"
        "    - origin   # the chat that asked\n"
        "  mode: off\n"
        "server:\n"
        "  port: 9000\n"
        "gateway:\n"
        "  profile_routes:\n"
        "    telegram:\n"
        "      '-100':\n"
        "        '6': career\n"
    )
    assert load_settings(path).gateway.profile_routes == {"telegram": {"-100": {"6": "career"}}}


def test_set_into_the_template_keeps_it_and_adds_keys_below(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    template = TEMPLATE.read_text()
    path.write_text(template)
    assert set_value(path, "model.model", "openai/gpt-5") == "openai/gpt-5"
    assert set_value(path, "approvals.channels", "[origin, telegram:42]") == [
        "origin",
        "telegram:42",
    ]
    assert set_value(path, "display.streaming", "false") is False
    assert set_value(path, "model.base_url", "null") is None
    assert path.read_text() == template + (
        "\nmodel:\n  model: openai/gpt-5\n  base_url:\n"
        "approvals:\n  channels: [origin, telegram:42]\n"
        "display:\n  streaming: false\n"
    )


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("server.port", "notanumber", "cannot set server.port: expected an integer, got"),
        ("model.provider", "openrouterr", "cannot set model.provider: 'openrouterr' is not one"),
        ("modle.model", "x", "cannot set modle.model: unknown key 'modle' (did you mean"),
        ("model.model.deeper", "x", "cannot set model.model.deeper: model.model holds a value"),
        ("model..model", "x", "invalid key"),
    ],
)
def test_set_rejects_invalid_values_and_leaves_the_file_alone(
    key: str, raw: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(USER_FILE.encode())
    with pytest.raises(ConfigError) as info:
        set_value(path, key, raw)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == USER_FILE.encode()


def test_set_reports_an_existing_error_elsewhere_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    original = "server:\n  port: 1\n\ncron:\n  timezon: UTC\n"
    path.write_text(original)
    with pytest.raises(ConfigError, match=r"line 5: unknown key 'cron.timezon'"):
        set_value(path, "server.port", "2")
    assert path.read_text() == original
    # ...but a bad value can be fixed with set itself
    path.write_text("server:\n  port: oops\n")
    assert set_value(path, "server.port", "2") == 2


def test_set_on_broken_yaml_reports_the_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("model:\n  model: [a\n")
    with pytest.raises(ConfigError, match=r"line \d: invalid YAML"):
        set_value(path, "server.port", "2")
    assert path.read_text() == "model:\n  model: [a\n"


def test_set_creates_a_missing_file_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    assert set_value(path, "cron.timezone", "Europe/Berlin") == "Europe/Berlin"
    assert path.read_text() == "cron:\n  timezone: Europe/Berlin\n"
    path.chmod(0o640)
    set_value(path, "server.port", "1234")
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no temp files left


def test_set_keeps_the_files_indentation_and_document_start(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# top\n---\nmodel:\n    model: x\napprovals:\n    channels:\n    - origin\n")
    set_value(path, "model.provider", "openai")
    assert path.read_text() == (
        "# top\n---\nmodel:\n    model: x\n    provider: openai\n"
        "approvals:\n    channels:\n    - origin\n"
    )


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("agent:\n  max_iterations: 0\n", "agent.max_iterations: must be at least 1, got 0"),
        ("server:\n  port: 99999\n", "server.port: must be at most 65535"),
        ("terminal:\n  timeout: -5\n", "terminal.timeout: must be at least 1"),
        ("model:\n  base_url: ftp://x\n", "model.base_url: must be an http:// or https:// URL"),
        ("model:\n  api_key_env: my key\n", "model.api_key_env: must be an environment variable"),
    ],
)
def test_values_out_of_range_are_rejected_with_line_and_key(text: str, detail: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(text, "config.yaml")
    assert str(err.value).startswith("config.yaml line 2: ")
    assert detail in str(err.value)


def test_list_items_are_checked_one_by_one() -> None:
    good = parse_settings("approvals:\n  deciders: [telegram:42]\n", "x")
    assert good.approvals.deciders == ["telegram:42"]
    with pytest.raises(
        ConfigError, match=r"approvals.deciders: each must be PLATFORM:USER_ID.*'42'"
    ):
        parse_settings("approvals:\n  deciders: [telegram:42, '42']\n", "x")
    with pytest.raises(ConfigError, match=r"terminal.env_passthrough: each must be a variable"):
        parse_settings("terminal:\n  env_passthrough: ['GH TOKEN']\n", "x")
