#!/usr/bin/env python3
"""A fake of the apptainer CLI, faithful for what hermes/backends/singularity.py
uses: `overlay create --size MB FILE`, `instance start [--overlay OV] IMAGE NAME`,
`instance list --json`, `instance stop NAME`, `exec [--cleanenv] instance://NAME
CMD...`. Commands run on this machine (host paths, as apptainer binds /tmp and
the cwd by default) with HOME set to a per-overlay root directory, standing in
for what the writable overlay keeps. Every call is appended to STATE/calls.jsonl.

Run as: apptainer_cli.py --state DIR ARGS... (tests put a shim named
`apptainer` first on PATH)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path


def fail(message: str) -> None:
    print(f"FATAL:   {message}", file=sys.stderr)
    sys.exit(255)


def main(argv: list[str]) -> None:
    assert argv[0] == "--state"
    state, args = Path(argv[1]), argv[2:]
    state.mkdir(parents=True, exist_ok=True)
    with (state / "calls.jsonl").open("a") as f:
        f.write(json.dumps(args) + "\n")
    instances = state / "instances"
    instances.mkdir(exist_ok=True)
    if args[:2] == ["overlay", "create"]:
        size, path = int(args[args.index("--size") + 1]), Path(args[-1])
        if path.exists():
            fail(f"overlay {path} already exists")
        with path.open("wb") as f:
            f.truncate(size * 1024 * 1024)  # sparse, like a fresh ext3 image
        return
    if args[:2] == ["instance", "start"]:
        rest = args[2:]
        overlay = rest[rest.index("--overlay") + 1] if "--overlay" in rest else None
        image, name = rest[-2], rest[-1]
        if not Path(image).is_file():
            fail(f"could not open image {image}: no such file")
        if overlay is not None and not Path(overlay).exists():
            fail(f"overlay {overlay} not found")
        if (instances / name).exists():
            fail(f"instance {name} already exists")
        key = hashlib.sha256(str(overlay).encode()).hexdigest()[:12]
        root = state / "roots" / key
        root.mkdir(parents=True, exist_ok=True)
        info = {"instance": name, "pid": os.getpid(), "img": image, "root": str(root)}
        (instances / name).write_text(json.dumps(info))
        print("INFO:    instance started successfully")
        return
    if args[:2] == ["instance", "list"]:
        found = [json.loads(p.read_text()) for p in sorted(instances.iterdir())]
        print(json.dumps({"instances": found}))
        return
    if args[:2] == ["instance", "stop"]:
        if not (instances / args[2]).exists():
            fail(f"no instance found with name {args[2]}")
        (instances / args[2]).unlink()
        print(f"INFO:    Stopping {args[2]} instance")
        return
    if args[:1] == ["exec"]:
        rest = args[1:]
        while rest and rest[0].startswith("--"):
            rest = rest[1:]
        target, command = rest[0], rest[1:]
        if not target.startswith("instance://"):
            fail("only instance:// targets are faked")
        name = target.removeprefix("instance://")
        if not (instances / name).exists():
            fail(f"no instance found with name {name}")
        info = json.loads((instances / name).read_text())
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": info["root"]}
        if "--cleanenv" not in args:
            env = {**os.environ, **env}
        os.execvpe(command[0], command, env)
    fail(f"unknown command {' '.join(args)}")


if __name__ == "__main__":
    main(sys.argv[1:])
