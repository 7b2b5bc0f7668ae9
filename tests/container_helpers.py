"""Container engines for the docker backend's tests, with no registry: a tiny
image made from this machine's own programs (bash, coreutils, findutils,
setsid, kill and the libraries they load), imported with `ENGINE import`.

`real_engine()` names a docker-compatible CLI whose engine answers (podman, from
`scripts/install test`, or docker), or None; the fake CLI (tests/fakes/docker_cli.py)
takes the same rootfs tarball, so both run the same programs."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

IMAGE = "localhost/hermes-test:rootfs"
# what the backend (and the tests) run inside: shell_files.py needs GNU coreutils,
# `find -printf`, base64 -w0; the process wrapper needs setsid and kill
PROGRAMS = [
    "bash", "sh", "cat", "ls", "stat", "base64", "head", "tail", "mkdir", "mktemp", "chmod",
    "mv", "rm", "cp", "ln", "dirname", "basename", "readlink", "realpath", "touch", "sleep",
    "env", "id", "true", "false", "echo", "printf", "pwd", "wc", "sort", "tr", "find", "grep",
    "sed", "setsid", "kill", "uname", "hostname", "test",
]  # fmt: skip


def _libraries(program: str) -> set[str]:
    done = subprocess.run(["ldd", program], capture_output=True, text=True, check=False)
    found = set()
    for line in done.stdout.splitlines():
        for word in line.split():
            if word.startswith("/"):
                found.add(word)
    return found


def rootfs_tar(path: Path) -> Path:
    """A tarball of a minimal root filesystem made of this machine's programs."""
    if path.exists():
        return path
    files: set[str] = set()
    for name in PROGRAMS:
        found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
        if found is None:
            raise AssertionError(f"{name} is missing on this machine: cannot build the image")
        real = str(Path(found).resolve())
        files |= {real, *_libraries(real)}
    tmp = path.with_suffix(".part")
    with tarfile.open(tmp, "w") as tar:
        for d in ("usr/bin", "usr/lib", "usr/lib64", "tmp", "root", "etc", "proc", "dev", "sys"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        for name in sorted(files):
            real = Path(name).resolve()
            inside = name.lstrip("/")
            for prefix, moved in (("bin/", "usr/bin/"), ("lib/", "usr/lib/"),
                                  ("lib64/", "usr/lib64/")):  # fmt: skip
                if inside.startswith(prefix):
                    inside = moved + inside[len(prefix) :]
            tar.add(str(real), arcname=inside, recursive=False)
        for name in PROGRAMS:  # each program under its own name in /usr/bin
            found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
            assert found is not None
            real = Path(found).resolve()
            arc = f"usr/bin/{name}"
            if f"/{arc}" != str(real):
                tar.add(str(real), arcname=arc, recursive=False)
        for name, text in (
            ("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
            ("etc/group", "root:x:0:\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    tmp.rename(path)
    return path


def engine_answers(cli: str) -> bool:
    try:
        done = subprocess.run([cli, "info"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def real_engine() -> str | None:
    """podman or docker when its engine answers here, else None."""
    for cli in ("podman", "docker"):
        found = shutil.which(cli)
        if found and engine_answers(found):
            return found
    return None


def no_engine_reason() -> str:
    clis = [c for c in ("podman", "docker") if shutil.which(c)]
    if not clis:
        return "no docker or podman CLI here (scripts/install test installs podman)"
    return f"{' and '.join(clis)} installed but no engine answers `info`"


def engine_env(cli: str, cache: Path) -> dict[str, str]:
    """Variables the tests give the engine. Podman here: a sandbox without
    CAP_SYS_RESOURCE (podman's default RLIMIT_NOFILE/NPROC cannot be set) and
    hybrid cgroups v1+v2 (crun refuses them): runc with limits we may set."""
    if Path(cli).name != "podman" or shutil.which("runc") is None:
        return {}
    conf = cache / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    return {"CONTAINERS_CONF": str(conf)}


def remove_containers(cli: str, home: Path) -> None:
    """Remove the containers the backend made for HOME (a test's throwaway home)."""
    found = subprocess.run(
        [cli, "ps", "-aq", "--filter", f"label=hermes.home={home}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    ids = found.stdout.split()
    if ids:
        subprocess.run([cli, "rm", "-f", "-t", "0", *ids], capture_output=True, check=False)


def ensure_image(cli: str, cache: Path) -> str:
    """IMAGE, imported into the engine of CLI from the rootfs tarball once."""
    have = subprocess.run([cli, "image", "inspect", IMAGE], capture_output=True, check=False)
    if have.returncode != 0:
        tar = rootfs_tar(cache / "hermes-test-rootfs.tar")
        subprocess.run([cli, "import", str(tar), IMAGE], capture_output=True, check=True)
    return IMAGE
