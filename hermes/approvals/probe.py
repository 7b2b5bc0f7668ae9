"""The approval gate's look at the disk: where symlinks really point and
whether a file is already there, so `rm -rf /tmp/h/` after `ln -s ~ /tmp/h`
is judged as deleting the home directory and `write_file` onto an existing
file counts as overwriting it. Implements hermes.risk.model.Probe for the
host (the local terminal backend)."""

from __future__ import annotations

import os


class LocalProbe:
    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)
