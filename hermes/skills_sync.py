"""Bundled skills: install them into a home and bring them up to date, never
overwriting what the user changed (`hermes update`, and a new home's first use).

Each home keeps `skills/.bundled.json`, the manifest of what we installed:
skill name -> sha256 of the skill folder as we last wrote it (all its files).
The rules, per bundled skill:

- not in the manifest and no folder: install it;
- folder content equal to the bundled one: nothing to do;
- folder content equal to the manifest hash (the user never touched it):
  replace it with the new bundled version;
- folder content different from both (the user changed it): keep it;
- in the manifest but the folder is gone (the user deleted it): do not bring
  it back; the manifest remembers the deletion so later updates respect it too;
- a folder we never installed (the user's own skill that has a bundled name):
  keep it, unless it is already identical to the bundled one.

Folders without a bundled counterpart (the user's skills, or skills dropped
from the bundle) are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BUNDLED_SKILLS = Path(__file__).parent / "defaults" / "skills"
MANIFEST = ".bundled.json"


@dataclass
class SyncReport:
    """What one sync did, by skill name."""

    installed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the user's changes win
    not_restored: list[str] = field(default_factory=list)  # the user deleted them
    current: list[str] = field(default_factory=list)  # already the bundled version

    def summary(self) -> str:
        """One line: what changed, or that nothing had to."""
        parts = []
        if self.installed:
            parts.append(f"installed {', '.join(self.installed)}")
        if self.updated:
            parts.append(f"updated {', '.join(self.updated)}")
        if self.kept:
            parts.append(f"kept your changes to {', '.join(self.kept)}")
        if self.not_restored:
            parts.append(f"not restored (you deleted them): {', '.join(self.not_restored)}")
        return "; ".join(parts) if parts else f"up to date ({len(self.current)} bundled skills)"


def skill_hash(folder: Path) -> str:
    """sha256 over every file of a skill folder: relative paths and contents, in order,
    so a renamed, added or removed file changes the hash as much as an edited one."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix().encode()
        content = path.read_bytes()
        digest.update(b"%d:%s%d:" % (len(relative), relative, len(content)))
        digest.update(content)
    return digest.hexdigest()


def bundled_skills(bundled: Path = BUNDLED_SKILLS) -> list[str]:
    """Names of the skills shipped in BUNDLED (folders holding a SKILL.md)."""
    if not bundled.is_dir():
        return []
    return sorted(p.parent.name for p in bundled.glob("*/SKILL.md"))


def read_manifest(skills_dir: Path) -> dict[str, dict[str, object]]:
    """name -> {"sha256": hash last installed, "deleted": bool}; {} when unreadable
    (then every bundled folder counts as the user's own: nothing is overwritten)."""
    try:
        data = json.loads((skills_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    skills = data.get("skills") if isinstance(data, dict) else None
    if not isinstance(skills, dict):
        return {}
    return {k: v for k, v in skills.items() if isinstance(v, dict)}


def _write_manifest(skills_dir: Path, manifest: dict[str, dict[str, object]]) -> None:
    text = json.dumps({"version": 1, "skills": manifest}, indent=2, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(dir=skills_dir, prefix=".bundled.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, skills_dir / MANIFEST)  # mkstemp made it 0600
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _copy_private(source: Path, target: Path) -> None:
    """Copy the skill folder SOURCE to the new folder TARGET: dirs 0700, files 0600,
    like everything else in a home."""
    target.mkdir(mode=0o700)
    target.chmod(0o700)
    for path in sorted(source.iterdir()):
        if path.is_dir():
            _copy_private(path, target / path.name)
        elif path.is_file():
            (target / path.name).write_bytes(path.read_bytes())
            (target / path.name).chmod(0o600)


def _put(source: Path, dest: Path, staging: Path) -> bool:
    """Make DEST a copy of SOURCE: built beside it, then swapped in, so a crash never
    leaves half a skill. False when DEST appeared meanwhile (another process won)."""
    fresh = staging / "new"
    _copy_private(source, fresh)
    if dest.exists():
        dest.rename(staging / "old")
    try:
        fresh.rename(dest)
    except OSError:
        if dest.is_dir():
            return False
        raise
    return True


def sync_skills(skills_dir: Path, bundled: Path = BUNDLED_SKILLS) -> SyncReport:
    """Bring the bundled skills of BUNDLED into SKILLS_DIR by the rules above."""
    report = SyncReport()
    if not skills_dir.is_dir():
        skills_dir.mkdir(mode=0o700, parents=True)
        skills_dir.chmod(0o700)
    manifest = read_manifest(skills_dir)
    before = json.dumps(manifest, sort_keys=True)
    # staged beside skills/ (same file system), not inside it: the skills index
    # would otherwise list a half-copied folder
    staging_root = Path(tempfile.mkdtemp(dir=skills_dir.parent, prefix=".skills-sync-"))
    try:
        for name in bundled_skills(bundled):
            source, dest = bundled / name, skills_dir / name
            staging = Path(tempfile.mkdtemp(dir=staging_root))
            new_hash = skill_hash(source)
            entry = manifest.get(name)
            ours = entry is not None and not entry.get("deleted")
            if not dest.exists():
                if entry is None:
                    if _put(source, dest, staging):
                        report.installed.append(name)
                    manifest[name] = {"sha256": new_hash}
                else:
                    manifest[name] = {**entry, "deleted": True}
                    report.not_restored.append(name)
                continue
            current = skill_hash(dest)
            if current == new_hash:
                manifest[name] = {"sha256": new_hash}
                report.current.append(name)
            elif ours and entry is not None and current == entry.get("sha256"):
                _put(source, dest, staging)
                manifest[name] = {"sha256": new_hash}
                report.updated.append(name)
            else:
                report.kept.append(name)
        if json.dumps(manifest, sort_keys=True) != before:
            _write_manifest(skills_dir, manifest)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    return report
