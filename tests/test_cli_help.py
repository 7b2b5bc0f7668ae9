"""`hermes ... --help` explains every command, action, option and argument."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator

from hermes.cli import build_parser


def parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("hermes",)
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


def test_every_command_action_option_and_argument_has_help() -> None:
    missing = [
        f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}"
        for path, parser in parsers(build_parser())
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]
    assert missing == []
    unexplained = [" ".join(path) for path, p in parsers(build_parser()) if not p.description]
    assert unexplained == []


def test_help_of_profile_delete_and_cron_edit_says_what_each_part_does() -> None:
    def help_of(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "hermes", *args, "--help"],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    delete = help_of("profile", "delete")
    assert "delete a profile and all its data" in delete
    assert "the profile to delete" in delete and "do not ask" in delete
    edit = help_of("cron", "edit")
    for option in ("--schedule", "--prompt", "--name", "--deliver"):
        line = next(x for x in edit.splitlines() if x.strip().startswith(option))
        assert len(line.split(maxsplit=2)) == 3, line  # option, metavar, then its help
