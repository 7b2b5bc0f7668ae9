"""A real `hermes gateway run` for benchmarks: a home whose model is the
scripted one, the process started on it (timed until it serves), its CPU time
and RSS from /proc, and a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import yaml

from hermes.testing import ScriptedModel

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def write_home(home: Path, model: ScriptedModel, api_key: str, zone: str = "UTC") -> None:
    home.mkdir(parents=True)
    config = {
        "model": {**model.config(), "max_retries": 0},
        "server": {"port": 0},
        "cron": {"timezone": zone},
    }
    (home / "config.yaml").write_text(yaml.safe_dump(config))
    (home / ".env").write_text(f"HERMES_API_KEY={api_key}\n")
    (home / ".env").chmod(0o600)


class GatewayProcess:
    """`python -m hermes gateway run` on `home`, output to HOME/gateway.out. The
    constructor returns once it serves (gateway.json written): `start_s` took, `url`."""

    def __init__(
        self, home: Path, seconds: float = 120.0, env: dict[str, str] | None = None
    ) -> None:
        """ENV: more variables (HERMES_REPLICA names a cluster's replica: its
        gateway.json is then HOME/replicas/NAME/gateway.json)."""
        self.home = home
        replica = (env or {}).get("HERMES_REPLICA")
        state = home / "replicas" / replica / "gateway.json" if replica else home / "gateway.json"
        self.state = state
        state.unlink(missing_ok=True)
        self.out: IO[str] = (home / f"gateway{'-' + replica if replica else ''}.out").open("a")
        env = {**os.environ, "HERMES_HOME": str(home), "HOME": str(home.parent), **(env or {})}
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hermes", "gateway", "run"],
            env=env,
            cwd=home,
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + seconds
        while not state.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the gateway on {home} did not start:\n{self.tail()}")
            time.sleep(0.005)
        self.start_s = time.perf_counter() - started
        self.url = str(json.loads(state.read_text())["url"])

    def tail(self) -> str:
        """The last lines of its output and log, for an error message."""
        text = Path(self.out.name).read_text(errors="replace")
        log = self.home / "logs" / "gateway.log"
        if log.exists():
            text += log.read_text(errors="replace")
        return "\n".join(text.splitlines()[-30:])

    def cpu_ms(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) * TICK_MS  # utime, stime

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise SystemExit("no VmRSS in /proc/PID/status")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
