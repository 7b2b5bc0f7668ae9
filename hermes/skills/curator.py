"""The curator: archives agent-made skills nobody used for `skills.archive_after_days`
(default 90). Archived means moved to skills/.archive/NAME, not deleted (move it
back to restore it). The user's own skills (no usage row, or created_by user) and
bundled ones (in skills/.bundled.json) are never touched. The scheduler calls
`archive_unused` once a day.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hermes.skills.proposals import ARCHIVE
from hermes.skills_sync import read_manifest
from hermes.store import skill_ops
from hermes.store.db import Conn

if TYPE_CHECKING:
    from hermes.context import Profile
    from hermes.store import Store

log = logging.getLogger(__name__)
DAY = 86_400.0


def archive_unused_sync(conn: Conn, home: Path, days: int, now: float) -> list[str]:
    """Archive the agent-made skills of HOME unused for DAYS; their names."""
    skills_dir = home / "skills"
    bundled = set(read_manifest(skills_dir))
    archived: list[str] = []
    for name in skill_ops.unused_agent_skills(conn, now - days * DAY):
        folder = skills_dir / name
        if name in bundled or not folder.is_dir():
            continue
        dest = skills_dir / ARCHIVE / name
        if dest.exists():
            dest = dest.with_name(f"{name}-{time.strftime('%Y%m%d', time.localtime(now))}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(dest)
        skill_ops.mark_archived(conn, name, now)
        log.info("curator: archived skill %s (unused for %d days) to %s", name, days, dest)
        archived.append(name)
    return archived


async def archive_unused(store: Store, profile: Profile, now: float | None = None) -> list[str]:
    """The daily curator run for PROFILE: names of the skills it archived."""
    days = profile.settings.skills.archive_after_days
    return await store.run(
        archive_unused_sync, profile.home, days, time.time() if now is None else now
    )
