"""Container engines for the docker backend's tests, with no registry: a tiny
image made from this machine's own programs (bash, coreutils, findutils,
setsid, kill, the system python3 with the part of its stdlib that execute_code's
`python3 hermes_tools.py` imports, and the libraries they load), imported with
`ENGINE import`.

`real_engine()` names a docker-compatible CLI whose engine answers (podman, from
`scripts/install test`, or docker), or None; the fake CLI (tests/fakes/docker_cli.py)
takes the same rootfs tarball, so both run the same programs."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

# a new tag whenever the contents change, so an engine's older cached image is not reused
IMAGE = "localhost/hermes-test:rootfs-python"
PYTHON = "/usr/bin/python3"  # the system python (a venv's is only a link to some python)
CLIENT = Path(__file__).resolve().parent.parent / "hermes" / "tools" / "script_client"
# run by `python3 hermes_tools.py PROBE` as execute_code runs a script: the files of
# every module loaded by then
PROBE = """
import json, sys
files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
print(json.dumps(sorted(f for f in files if f)))
"""
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


def python_files() -> set[str]:
    """The system python's binary and the stdlib files (with their compiled .pyc)
    that `python3 hermes_tools.py SCRIPT` (execute_code's client) loads, found by
    running just that."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.py"
        probe.write_text(PROBE)
        done = subprocess.run(
            [PYTHON, "-B", str(CLIENT / "hermes_tools.py"), str(probe)],
            input="no-token\n", capture_output=True, text=True, cwd=tmp, check=False,
            env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"{PYTHON} hermes_tools.py failed here: {done.stderr[-1000:]}")
    loaded = [Path(f) for f in json.loads(done.stdout)]
    stdlib = next(f.parent for f in loaded if f.name == "os.py")  # /usr/lib/python3.X
    files = {str(Path(PYTHON).resolve())}
    for found in loaded:
        if not found.is_relative_to(stdlib):  # hermes_tools itself: copied in at run time
            continue
        files.add(str(found))
        if found.suffix == ".py":
            cached = Path(importlib.util.cache_from_source(str(found)))
            if cached.exists():
                files.add(str(cached))
    return files


def rootfs_tar(path: Path) -> Path:
    """A tarball of a minimal root filesystem made of this machine's programs."""
    if path.exists():
        return path
    files: set[str] = set()
    for name in sorted(python_files()):
        files |= {name, *(_libraries(name) if name.endswith(".so") else ())}
    files |= _libraries(str(Path(PYTHON).resolve()))
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
        python = Path(PYTHON).resolve()  # python3 -> python3.11, a link: not a second copy
        info = tarfile.TarInfo(f"usr/bin/{Path(PYTHON).name}")
        info.type, info.linkname = tarfile.SYMTYPE, python.name
        tar.addfile(info)
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
