"""File operations for a backend that can only run commands (ssh now; docker
exec and the like later): each is one small POSIX shell script with GNU
coreutils (`stat -c`, `base64 -w0`, `find -printf`, `realpath -m`), run
through the backend's own `run`. File contents travel base64-encoded on
stdout, so binary files survive the text channel."""

from __future__ import annotations

import base64
import errno
from collections.abc import Sequence
from pathlib import Path

from hermes.backends.base import Backend, Completed, Entry, FileStat, Kind

_MISSING, _IS_DIR, _DENIED = 3, 4, 5
_CHECK = '[ -e "$1" ] || [ -L "$1" ] || exit 3; [ -d "$1" ] && exit 4; [ -r "$1" ] || exit 5; '
_FIND_KINDS: dict[str, Kind] = {"f": "file", "d": "dir", "l": "link"}
_STAT_KINDS: dict[str, Kind] = {"regular file": "file", "regular empty file": "file",
                                "directory": "dir"}  # fmt: skip
_WRITE = r"""p=$1
if [ -L "$p" ]; then p=$(readlink -f -- "$p") || exit 1; fi
[ -d "$p" ] && exit 4
d=$(dirname -- "$p"); mkdir -p -- "$d" || exit 1
m=644; if [ -e "$p" ]; then m=$(stat -c %a -- "$p") || exit 1; fi
t=$(mktemp "$d/.$(basename -- "$p").XXXXXX") || exit 1
if cat > "$t" && chmod "$m" "$t" && mv -f -- "$t" "$p"; then exit 0; fi
rm -f -- "$t"; exit 1"""
_READ_MANY = r"""while IFS= read -r -d '' f; do
  if [ -f "$f" ] && [ -r "$f" ] && s=$(stat -L -c %s -- "$f") && [ "$s" -le "$1" ]; then
    printf F; base64 -w0 -- "$f"; printf '\n'
  else printf 'S\n'; fi
done"""
BATCH = 200  # files per read_many round trip


class ShellFilesBackend(Backend):
    """A Backend whose file methods run shell scripts through `run`."""

    async def _script(
        self, script: str, *args: str, stdin: bytes | None = None, shell: str = "sh"
    ) -> Completed:
        return await self.run([shell, "-c", script, shell, *args], stdin=stdin, timeout=300)

    @staticmethod
    def _fail(done: Completed, path: Path) -> OSError:
        text = done.stderr.decode("utf-8", "replace").strip()
        if done.returncode == _MISSING:
            return FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        if done.returncode == _IS_DIR:
            return IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if done.returncode == _DENIED or "Permission denied" in text:
            return PermissionError(errno.EACCES, "Permission denied", str(path))
        return OSError(errno.EIO, text or f"exit code {done.returncode}", str(path))

    async def read_bytes(self, path: Path, limit: int | None = None) -> bytes:
        take = (
            f'head -c {int(limit)} -- "$1" | base64 -w0'
            if limit is not None
            else ('base64 -w0 -- "$1"')
        )
        done = await self._script(_CHECK + take, str(path))
        if done.returncode != 0:
            raise self._fail(done, path)
        return base64.b64decode(done.stdout)

    async def write_bytes(self, path: Path, data: bytes) -> None:
        done = await self._script(_WRITE, str(path), stdin=data)
        if done.returncode != 0:
            raise self._fail(done, path)

    async def stat(self, path: Path) -> FileStat | None:
        done = await self._script(
            '[ -e "$1" ] || exit 3; stat -L -c "%F|%s|%a|%Y" -- "$1"', str(path)
        )
        if done.returncode == _MISSING:
            return None
        if done.returncode != 0:
            raise self._fail(done, path)
        kind, size, mode, mtime = done.stdout.decode().strip().split("|")
        return FileStat(_STAT_KINDS.get(kind, "other"), int(size), int(mode, 8), float(mtime))

    async def exists(self, path: Path) -> bool:
        done = await self._script('[ -e "$1" ] || [ -L "$1" ]', str(path))
        return done.returncode == 0

    async def realpath(self, path: Path) -> str:
        done = await self._script('realpath -m -- "$1"', str(path))
        if done.returncode != 0:
            raise self._fail(done, path)
        return done.stdout.decode().rstrip("\n")

    async def mkdir(self, path: Path) -> None:
        done = await self._script('mkdir -p -- "$1"', str(path))
        if done.returncode != 0:
            raise self._fail(done, path)

    async def listdir(self, path: Path) -> list[Entry]:
        done = await self._script(
            _CHECK.replace('[ -d "$1" ] && exit 4; ', "")
            + "cd -- \"$1\" && find . -mindepth 1 -maxdepth 1 -printf '%y %P\\0'",
            str(path),
        )
        if done.returncode != 0:
            raise self._fail(done, path)
        return sorted(_entries(done.stdout), key=lambda e: e.path)

    async def walk(
        self, base: Path, skip_dirs: frozenset[str], most: int
    ) -> tuple[list[Entry], bool]:
        names = [w for d in sorted(skip_dirs) for w in ("-name", d, "-o")][:-1]
        prune = f"\\( -type d \\( {' '.join(names)} \\) -prune \\) -o " if names else ""
        find = (
            f"cd -- \"$1\" && find . -mindepth 1 {prune}\\( ! -type d -printf '%y %P\\0' \\)"
            f" | head -z -n {int(most) + 1}"
        )
        done = await self._script(find, str(base))
        if done.returncode != 0:
            raise self._fail(done, base)
        found = _entries(done.stdout)
        found.sort(key=lambda e: (e.path.split("/")[:-1], e.path.rsplit("/", 1)[-1]))
        return found[:most], len(found) <= most

    async def read_many(self, paths: Sequence[Path], max_bytes: int) -> list[bytes | None]:
        found: list[bytes | None] = []
        for at in range(0, len(paths), BATCH):
            batch = paths[at : at + BATCH]
            names = b"".join(str(p).encode("utf-8", "surrogateescape") + b"\0" for p in batch)
            done = await self._script(_READ_MANY, str(max_bytes), stdin=names, shell="bash")
            lines = done.stdout.split(b"\n")
            for i in range(len(batch)):
                line = lines[i] if i < len(lines) else b"S"
                found.append(base64.b64decode(line[1:]) if line[:1] == b"F" else None)
        return found


def _entries(out: bytes) -> list[Entry]:
    found = []
    for item in out.split(b"\0"):
        if len(item) > 2:
            kind, name = item[:1].decode(), item[2:].decode("utf-8", "surrogateescape")
            found.append(Entry(name, _FIND_KINDS.get(kind, "other")))
    return found
