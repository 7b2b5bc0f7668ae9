"""The route table (hermes.gateway.routing): which profile answers a chat."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes.config import load_settings
from hermes.errors import HermesError
from hermes.gateway.routing import Routes
from hermes.settings import Settings


def settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_settings(path)


CONFIG = """
gateway:
  profile_routes:
    telegram:
      -1003961179976:
        6: career
        "*": research
      "555": systems
    discord:
      "789012345":
        "111222333": my-discord-agent
telegram:
  topic_profiles:
    "-1003961179976:9": finance
    "777": default
"""


def test_the_most_specific_route_wins_and_the_rest_stays_home(tmp_path: Path) -> None:
    routes = Routes.from_settings(settings(tmp_path, CONFIG), "default")
    forum = "-1003961179976"
    assert routes.profile_for("telegram", forum, "6") == "career"
    assert routes.profile_for("telegram", forum, "9") == "finance"  # the flat form
    assert routes.profile_for("telegram", forum, "42") == "research"  # the chat's "*"
    assert routes.profile_for("telegram", forum, None) == "research"
    assert routes.profile_for("telegram", "555", "3") == "systems"  # a whole chat
    assert routes.profile_for("discord", "789012345", "111222333") == "my-discord-agent"
    assert routes.profile_for("discord", "789012345", None) is None
    assert routes.profile_for("telegram", "4242", None) is None  # a DM: the gateway's own
    assert routes.profile_for("telegram", "777", None) is None  # routed to itself
    assert routes.profile_for("slack", forum, "6") is None  # routes are per platform
    assert routes.profiles() == ["career", "finance", "my-discord-agent", "research", "systems"]


def test_one_chat_routed_two_ways_names_both(tmp_path: Path) -> None:
    text = """
gateway:
  profile_routes:
    telegram:
      "-100":
        "6": career
telegram:
  topic_profiles:
    "-100:6": research
"""
    with pytest.raises(HermesError) as err:
        Routes.from_settings(settings(tmp_path, text), "default")
    message = str(err.value)
    assert "telegram.topic_profiles.-100:6 routes to 'research'" in message
    assert "gateway.profile_routes.telegram.-100.6 routes the same chat to 'career'" in message


def test_a_bad_profile_name_in_a_route_is_named(tmp_path: Path) -> None:
    text = 'telegram:\n  topic_profiles:\n    "-100:6": "Bad Name"\n'
    with pytest.raises(HermesError, match=r"telegram.topic_profiles.-100:6: invalid profile name"):
        Routes.from_settings(settings(tmp_path, text), "default")
