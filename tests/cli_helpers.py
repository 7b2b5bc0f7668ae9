"""Run the real `hermes` command in a subprocess, as the CLI tests do."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path


def hermes_env(
    home: Path, env: dict[str, str] | None = None, clean: bool = False
) -> dict[str, str]:
    """The environment for `hermes` on `home`: ours plus HERMES_HOME, or (`clean`)
    only PATH, HOME=home.parent and HERMES_HOME, so no provider key leaks in;
    `env` is laid over either."""
    if clean:
        base = {"PATH": os.environ.get("PATH", ""), "HOME": str(home.parent)}
    else:
        base = dict(os.environ)
    return {**base, "HERMES_HOME": str(home), **(env or {})}


def run_hermes(
    home: Path,
    *args: str,
    env: dict[str, str] | None = None,
    clean: bool = False,
    stdin: str | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`hermes ARGS` on `home` (see hermes_env); text output captured, `stdin` fed
    (else /dev/null). A clean run works in home.parent unless `cwd` says otherwise."""
    return subprocess.run(
        [sys.executable, "-m", "hermes", *args],
        env=hermes_env(home, env, clean),
        cwd=cwd if cwd is not None else (home.parent if clean else None),
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def arun_hermes(
    home: Path,
    *args: str,
    env: dict[str, str] | None = None,
    clean: bool = False,
    timeout: float = 60,  # noqa: ASYNC109 - one deadline for the whole run
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """run_hermes() without blocking the event loop (e.g. one serving a gateway)."""
    argv = [sys.executable, "-m", "hermes", *args]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=hermes_env(home, env, clean),
        cwd=cwd if cwd is not None else (home.parent if clean else None),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"`hermes {' '.join(args)}` still running after {timeout}s") from None
    assert proc.returncode is not None
    return subprocess.CompletedProcess(argv, proc.returncode, out.decode(), err.decode())
