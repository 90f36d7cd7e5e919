"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine), so their structure
is checked instead: the services exist and are wired to each other through the app's settings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import yaml

from web.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def setting_names() -> set[str]:
    return {field.alias for field in Settings.model_fields.values() if field.alias}


def test_compose_runs_app_qdrant_and_tei() -> None:
    services = compose()["services"]
    outside_cluster = {n for n, s in services.items() if "cluster" not in s.get("profiles", [])}
    assert outside_cluster == {"app", "qdrant", "tei", "tei-rerank"}
    assert services["qdrant"]["image"].startswith("qdrant/qdrant")
    assert "text-embeddings-inference" in services["tei"]["image"]
    assert services["app"]["build"] == "."
    assert set(services["app"]["depends_on"]) == {"qdrant", "tei"}


def test_app_environment_uses_only_real_settings() -> None:
    environment = compose()["services"]["app"]["environment"]
    unknown = set(environment) - setting_names()
    assert not unknown, f"docker-compose.yml sets variables the app does not read: {unknown}"


def test_app_reaches_qdrant_and_tei_by_service_name_and_port() -> None:
    services = compose()["services"]
    environment = services["app"]["environment"]
    qdrant = urlparse(environment["QDRANT_URL"])
    assert qdrant.hostname == "qdrant"
    assert any(str(qdrant.port) in str(p) for p in services["qdrant"]["ports"])
    tei = urlparse(environment["EMBEDDINGS_ENDPOINT"])
    assert tei.hostname == "tei"
    command = services["tei"]["command"]
    assert command[command.index("--port") + 1] == str(tei.port)
    assert tei.path == "/embed"
    assert environment["EMBEDDINGS_PROVIDER"] == "endpoint"


def test_the_reranker_is_optional_and_reachable_when_started() -> None:
    services = compose()["services"]
    rerank = services["tei-rerank"]
    assert rerank["profiles"] == ["rerank"], "started only with --profile rerank"
    assert "text-embeddings-inference" in rerank["image"]
    assert "tei-rerank" not in services["app"]["depends_on"]
    assert services["app"]["environment"]["RERANK_ENDPOINT"] == "${RERANK_ENDPOINT:-}"
    command = rerank["command"]
    assert command[command.index("--port") + 1] == "80"
    header = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "RERANK_ENDPOINT=http://tei-rerank:80/rerank" in header


def test_volumes_are_declared_and_mounted_where_data_lives() -> None:
    spec = compose()
    declared = set(spec["volumes"])
    for service in spec["services"].values():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in declared
    app = spec["services"]["app"]
    data_dir = app["environment"]["SEMSEARCH_DATA_DIR"]
    assert any(v.split(":")[1] == data_dir for v in app["volumes"])
    assert any(v.endswith(":/qdrant/storage") for v in spec["services"]["qdrant"]["volumes"])


def test_dockerfile_installs_cpu_torch_and_serves_on_all_interfaces() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "torch==2.13.0" in dockerfile
    for package in ("embeddings", "ingest", "search", "web"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert '"serve", "--host", "0.0.0.0"' in dockerfile
    app_port = compose()["services"]["app"]["ports"][0].split(":")[1]
    assert f"EXPOSE {app_port}" in dockerfile


def test_compose_publishes_only_on_the_hosts_loopback_and_requires_the_qdrant_key() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    required = "${QDRANT_API_KEY:?"
    assert services["app"]["environment"]["QDRANT_API_KEY"].startswith(required)
    assert services["qdrant"]["environment"]["QDRANT__SERVICE__API_KEY"].startswith(required)
