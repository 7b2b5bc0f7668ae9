"""deploy/ (the image, the compose cluster, the Kubernetes manifests) agrees with the code:
the extras exist, the home and the port are Hermes' own, every replica has a name of its
own and the one shared home, the probes ask /health. Reads files only, except the
init script, which runs against the real `hermes` on a temporary home."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from hermes.envfile import parse_env_text
from hermes.pidfile import REPLICA_VARIABLE, runtime_dir
from hermes.settings import ServerSettings
from hermes.store.pg import PgTarget
from hermes.store.where import locate

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
PORT = ServerSettings().port
HOME = "/data/hermes"


def instructions() -> list[tuple[str, str]]:
    """deploy/Containerfile as (INSTRUCTION, arguments), continuation lines joined."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in (DEPLOY / "Containerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).strip().partition(" ")
        found.append((word.upper(), rest.strip()))
        pending = ""
    return found


def args_named(name: str) -> list[str]:
    """The default of every `ARG NAME=...` (one per stage that declares it)."""
    values = []
    for word, rest in instructions():
        key, _, value = rest.partition("=")
        if word == "ARG" and key == name:
            values.append(value.strip('"'))
    return values


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def replicas() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if REPLICA_VARIABLE in (service.get("environment") or {})
    }


def k8s_documents(folder: Path = K8S) -> dict[str, list[dict[str, Any]]]:
    return {
        str(path.relative_to(K8S)): [d for d in yaml.safe_load_all(path.read_text()) if d]
        for path in sorted(folder.rglob("*.yaml"))
    }


def one(kind: str) -> dict[str, Any]:
    found = [d for docs in k8s_documents().values() for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def assert_valid_replica_name(name: str, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    monkeypatch.setenv(REPLICA_VARIABLE, name)
    assert runtime_dir(tmp) == tmp / "replicas" / name  # raises on a name Hermes refuses


def test_the_image_installs_extras_that_exist_and_runs_the_gateway() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras = set(project["project"]["optional-dependencies"])
    defaults = args_named("EXTRAS")
    assert len(defaults) == 2 and len(set(defaults)) == 1, defaults  # build and final stage
    chosen = defaults[0].split(",")
    assert set(chosen) <= extras, set(chosen) - extras
    assert {"postgres", "telegram"} <= set(chosen)
    assert "local" not in chosen  # builds llama-cpp-python from source: opt in only
    assert "hermes" in project["project"]["scripts"]
    found = dict(instructions())  # the last of each instruction: the final stage's
    assert found["ENTRYPOINT"] == '["hermes"]'
    assert found["CMD"] == '["gateway", "run"]'
    assert found["USER"] == "hermes"
    assert found["EXPOSE"] == str(PORT)
    assert found["VOLUME"] == f'["{HOME}"]'
    assert f"HERMES_HOME={HOME}" in found["ENV"]
    assert f"127.0.0.1:{PORT}/health" in found["HEALTHCHECK"]
    assert "ripgrep" in " ".join(args_named("APT_PACKAGES"))


def test_the_build_context_keeps_what_the_image_copies() -> None:
    ignores = [
        (REPO / name).read_text().splitlines() for name in (".containerignore", ".dockerignore")
    ]
    assert ignores[0] == ignores[1]
    patterns = {line.strip() for line in ignores[0] if line.strip() and not line.startswith("#")}
    assert {".git", ".venv"} <= patterns
    copied = [
        word
        for instruction, rest in instructions()
        if instruction == "COPY" and "--from" not in rest
        for word in shlex.split(rest)[:-1]
    ]
    assert "hermes" in copied and "pyproject.toml" in copied
    for source in copied:
        assert (REPO / source).exists(), source
        parts = Path(source).parts
        hidden = {str(Path(*parts[:n])) for n in range(1, len(parts) + 1)} & patterns
        assert not hidden, f"{source} is copied but ignored by {hidden}"


def test_compose_runs_three_replicas_on_one_home_and_a_healthy_postgres(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = compose()
    services = spec["services"]
    postgres = services["postgres"]
    assert postgres["image"].endswith("postgres:15")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    pg_volume, _, pg_path = postgres["volumes"][0].partition(":")
    assert pg_volume in spec["volumes"] and pg_path == "/var/lib/postgresql/data"

    found = replicas()
    assert len(found) == 3, sorted(found)
    names = [s["environment"][REPLICA_VARIABLE] for s in found.values()]
    assert len(set(names)) == 3, names
    for name in names:
        assert_valid_replica_name(name, monkeypatch, tmp_path)
    homes = {tuple(s["volumes"]) for s in found.values()}
    assert len(homes) == 1, homes  # the same (one) volume on every replica
    (volumes,) = homes
    home_volume, _, home_path = volumes[0].partition(":")
    assert home_volume in spec["volumes"] and home_path == HOME
    host_ports = set()
    for service in found.values():
        assert service["restart"] == "unless-stopped"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert service["env_file"] == "hermes.env"
        assert "entrypoint" not in service and "command" not in service  # gateway run
        assert f"127.0.0.1:{PORT}/health" in " ".join(service["healthcheck"]["test"])
        (published,) = service["ports"]
        host_ports.add(published.rsplit(":", 1)[0])
        assert published.rsplit(":", 1)[1] == str(PORT)
    assert len(host_ports) == 3, host_ports

    init = services["init"]
    assert init["entrypoint"] == ["hermes-init-home"]
    assert init["volumes"] == list(volumes)


def test_the_env_example_points_the_replicas_at_the_compose_postgres(tmp_path: Path) -> None:
    example = parse_env_text((DEPLOY / "hermes.env.example").read_text(), "hermes.env.example")
    for key in ("HERMES_DATABASE_URL", "HERMES_API_KEY", "TELEGRAM_BOT_TOKEN", "POSTGRES_PASSWORD"):
        assert key in example, key
    where = locate(tmp_path, "default", example)
    assert isinstance(where, PgTarget) and where.schema == "hermes_default"
    url = urlsplit(example["HERMES_DATABASE_URL"])
    postgres = compose()["services"]["postgres"]
    assert url.hostname == "postgres" and url.port == 5432
    assert url.username == postgres["environment"]["POSTGRES_USER"]
    assert url.password == example["POSTGRES_PASSWORD"]
    assert url.path == "/" + postgres["environment"]["POSTGRES_DB"]


def test_kubernetes_manifests_share_one_rwx_home_and_probe_health(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    documents = k8s_documents()
    for path, docs in documents.items():
        for doc in docs:
            if doc["kind"] != "Kustomization":
                assert "namespace" not in doc["metadata"], path

    kustomization = one("Kustomization")
    assert not {"secret.example.yaml", "examples/postgres.yaml"} & set(kustomization["resources"])
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource

    # (examples/postgres.yaml holds a second StatefulSet)
    (sts,) = [d for d in documents["statefulset.yaml"] if d["kind"] == "StatefulSet"]
    assert sts["spec"]["replicas"] == 3
    for n in range(3):
        assert_valid_replica_name(f"{sts['metadata']['name']}-{n}", monkeypatch, tmp_path)
    pod = sts["spec"]["template"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env[REPLICA_VARIABLE]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert [m["mountPath"] for m in container["volumeMounts"]] == [HOME]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": PORT}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check = container[probe]["httpGet"]
        assert check["path"] == "/health"
        assert ports.get(check["port"], check["port"]) == PORT
    (init,) = pod["spec"]["initContainers"]
    assert init["command"] == ["hermes-init-home"]
    assert init["image"] == container["image"]
    assert [m["mountPath"] for m in init["volumeMounts"]] == [HOME]

    (volume,) = pod["spec"]["volumes"]
    claim = one("PersistentVolumeClaim")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]

    secret = next(d for d in documents["secret.example.yaml"] if d["kind"] == "Secret")
    (source,) = container["envFrom"]
    assert source["secretRef"]["name"] == secret["metadata"]["name"]
    assert {"HERMES_DATABASE_URL", "HERMES_API_KEY", "TELEGRAM_BOT_TOKEN"} <= set(
        secret["stringData"]
    )

    services = [d for d in documents["service.yaml"] if d["kind"] == "Service"]
    assert sts["spec"]["serviceName"] in {s["metadata"]["name"] for s in services}
    for service in services:
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        (port,) = service["spec"]["ports"]
        assert ports.get(port["targetPort"], port["targetPort"]) == PORT

    example = [d for d in documents["examples/postgres.yaml"] if d["kind"] == "StatefulSet"]
    assert example[0]["spec"]["template"]["spec"]["containers"][0]["image"].endswith("postgres:15")


def run_init(home: Path) -> subprocess.CompletedProcess[str]:
    """deploy/init-home.sh with the real `hermes` of this environment on PATH."""
    bin_dir = Path(sys.executable).parent
    env = {
        "PATH": f"{bin_dir}:{os.defpath}",
        "HOME": str(home.parent),
        "HERMES_HOME": str(home),
    }
    return subprocess.run(
        ["sh", str(DEPLOY / "init-home.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def server_host(home: Path) -> str:
    config = yaml.safe_load((home / "config.yaml").read_text()) or {}
    host: str = (config.get("server") or {}).get("host", ServerSettings().host)
    return host


def test_the_init_script_opens_the_server_to_the_network_once(tmp_path: Path) -> None:
    assert (Path(sys.executable).parent / "hermes").exists()
    home = tmp_path / "fresh"
    done = run_init(home)
    assert done.returncode == 0, done.stderr
    assert server_host(home) == "0.0.0.0"
    assert (home / "memories").is_dir() and (home / "SOUL.md").is_file()
    again = run_init(home)
    assert again.returncode == 0, again.stderr
    assert server_host(home) == "0.0.0.0"

    chosen = tmp_path / "chosen"
    chosen.mkdir()
    (chosen / "config.yaml").write_text("server:\n  host: 10.1.2.3\n")
    done = run_init(chosen)
    assert done.returncode == 0, done.stderr
    assert server_host(chosen) == "10.1.2.3"  # an address set on purpose is kept
