"""Bundled skills: the sync rules on a tmp bundle, and `hermes update` end to end."""

from __future__ import annotations

import json
import shutil
import stat
from functools import partial
from pathlib import Path

from hermes.skills_sync import BUNDLED_SKILLS, MANIFEST, bundled_skills, sync_skills
from tests.cli_helpers import run_hermes

REPO = Path(__file__).resolve().parents[1]


def skill(folder: Path, name: str, body: str) -> None:
    (folder / name).mkdir(parents=True, exist_ok=True)
    text = f"---\nname: {name}\ndescription: {name} things\n---\n{body}\n"
    (folder / name / "SKILL.md").write_text(text)


def body(skills: Path, name: str) -> str:
    return (skills / name / "SKILL.md").read_text().split("---\n")[-1].strip()


def test_bundled_skills_are_real_skills() -> None:
    from hermes.agent.prompt import read_skills_index

    entries = read_skills_index(BUNDLED_SKILLS)
    assert len(entries) >= 3
    assert [e.name for e in entries] == bundled_skills()
    for entry in entries:
        assert len(entry.description) > 40, entry  # says when to use it


def test_first_sync_installs_privately_and_records_what_it_wrote(tmp_path: Path) -> None:
    bundle, skills = tmp_path / "bundle", tmp_path / "home" / "skills"
    skill(bundle, "alpha", "v1")
    skill(bundle, "beta", "v1")
    (bundle / "beta" / "helper.sh").write_text("echo hi\n")
    report = sync_skills(skills, bundle)
    assert report.installed == ["alpha", "beta"]
    assert report.summary() == "installed alpha, beta"
    assert (skills / "beta" / "helper.sh").read_text() == "echo hi\n"
    assert stat.S_IMODE((skills / "beta").stat().st_mode) == 0o700
    assert stat.S_IMODE((skills / "beta" / "helper.sh").stat().st_mode) == 0o600
    assert set(json.loads((skills / MANIFEST).read_text())["skills"]) == {"alpha", "beta"}
    again = sync_skills(skills, bundle)
    assert again.installed == [] and again.current == ["alpha", "beta"]
    assert again.summary() == "up to date (2 bundled skills)"
    assert not list(tmp_path.glob("home/.skills-sync-*"))  # no staging left behind


def test_new_bundle_updates_untouched_keeps_changed_respects_deletions(tmp_path: Path) -> None:
    bundle, skills = tmp_path / "bundle", tmp_path / "skills"
    for name in ("same", "edited", "extra-file", "removed"):
        skill(bundle, name, "v1")
    sync_skills(skills, bundle)
    # the user: edits one, adds a file to another, deletes one, writes their own
    skill(skills, "edited", "my version")
    (skills / "extra-file" / "notes.md").write_text("mine\n")
    shutil.rmtree(skills / "removed")
    skill(skills, "mine", "my own skill")
    # the next version of Hermes changes every bundled skill and adds one
    for name in ("same", "edited", "extra-file", "removed", "fresh"):
        skill(bundle, name, "v2")

    report = sync_skills(skills, bundle)
    assert report.updated == ["same"]
    assert report.kept == ["edited", "extra-file"]
    assert report.not_restored == ["removed"]
    assert report.installed == ["fresh"]
    assert "kept your changes to edited, extra-file" in report.summary()
    assert body(skills, "same") == "v2"
    assert body(skills, "edited") == "my version"
    assert body(skills, "extra-file") == "v1"
    assert (skills / "extra-file" / "notes.md").read_text() == "mine\n"
    assert not (skills / "removed").exists()
    assert body(skills, "mine") == "my own skill"

    # still not restored a version later; a reverted skill follows updates again
    skill(skills, "edited", "v1")
    skill(bundle, "removed", "v3")
    skill(bundle, "edited", "v3")
    report = sync_skills(skills, bundle)
    assert report.not_restored == ["removed"] and not (skills / "removed").exists()
    assert report.updated == ["edited"] and body(skills, "edited") == "v3"
    assert body(skills, "mine") == "my own skill"


def test_a_skill_of_the_same_name_made_by_the_user_is_left_alone(tmp_path: Path) -> None:
    bundle, skills = tmp_path / "bundle", tmp_path / "skills"
    skill(bundle, "alpha", "bundled")
    skill(skills, "alpha", "written before it was bundled")
    report = sync_skills(skills, bundle)
    assert report.kept == ["alpha"]
    assert body(skills, "alpha") == "written before it was bundled"


hermes = partial(run_hermes, clean=True, env={"PATH": "/usr/bin:/bin"}, cwd=REPO)


def test_hermes_update_syncs_every_profile_and_keeps_user_changes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    names = bundled_skills()
    changed, deleted = names[0], names[1]
    assert hermes(root, "config", "path").returncode == 0  # the default home, first use
    assert hermes(root, "profile", "create", "coder", "--no-alias").returncode == 0
    # a profile from before bundled skills: it has a skills/ folder but no manifest
    old = root / "profiles" / "old"
    (old / "skills").mkdir(parents=True)
    skill(old / "skills", "own", "the user's own")
    coder = root / "profiles" / "coder" / "skills"
    skill(coder, changed, "changed by me")
    shutil.rmtree(coder / deleted)

    result = hermes(root, "update")
    assert result.returncode == 0, result.stderr
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines()}
    assert lines["default"] == f"default: up to date ({len(names)} bundled skills)"
    assert f"kept your changes to {changed}" in lines["coder"]
    assert f"not restored (you deleted them): {deleted}" in lines["coder"]
    assert lines["old"] == f"old: installed {', '.join(names)}"
    assert "pip install" in result.stdout  # how to upgrade the code itself
    assert body(coder, changed) == "changed by me"
    assert not (coder / deleted).exists()
    assert body(old / "skills", "own") == "the user's own"
    assert all((old / "skills" / n / "SKILL.md").is_file() for n in names)
