"""docker-compose.yml's "cluster" profile cannot run here (no Docker engine), so its structure is
checked: a 3-node Qdrant cluster as in Qdrant's distributed deployment, Redis, two app replicas
and two workers sharing one volume, two TEI replicas, and the balancers wiring them through the
app's own settings (docs/scaling.md)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from tests.test_deploy_files import ROOT, compose, setting_names
from web.settings import Settings

NODES = ["qdrant-1", "qdrant-2", "qdrant-3"]
APPS = ["app-1", "app-2"]
WORKERS = ["worker-1", "worker-2"]


def cluster() -> dict[str, Any]:
    services = compose()["services"]
    return {n: s for n, s in services.items() if "cluster" in s.get("profiles", [])}


def nginx(config: str) -> str:
    return str(compose()["configs"][config]["content"])


def upstream(config: str, name: str) -> list[str]:
    match = re.search(r"upstream " + name + r" \{([^}]*)\}", nginx(config))
    assert match, f"no upstream {name} in {config}"
    return re.findall(r"server ([\w.-]+:\d+);", match.group(1))


def substituted(environment: dict[str, str]) -> dict[str, str]:
    """The values compose would pass, with each ``${NAME:?...}`` or ``${NAME:-default}``
    replaced by a stand-in or its default."""

    def value(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name, operator, rest = match.group(1), match.group(2), match.group(3)
            return rest if operator == ":-" else f"stand-in-{name.lower()}"

        return re.sub(r"\$\{(\w+)(:[?-])?([^}]*)\}", one, str(text))

    return {key: value(text) for key, text in environment.items()}


def test_the_profile_holds_the_whole_topology() -> None:
    assert set(cluster()) == {
        *NODES,
        *APPS,
        *WORKERS,
        "redis",
        "tei-1",
        "tei-2",
        "lb",
        "backends",
    }
    for name, service in cluster().items():
        for dependency in service.get("depends_on", []):
            assert dependency in cluster(), f"{name} needs {dependency}, outside the profile"


def test_qdrant_nodes_form_one_cluster_with_the_p2p_port_inside() -> None:
    services = cluster()
    for name in NODES:
        node = services[name]
        assert node["image"] == compose()["services"]["qdrant"]["image"]
        assert node["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert node["environment"]["QDRANT__SERVICE__API_KEY"].startswith("${QDRANT_API_KEY:?")
        command = node["command"]
        assert command[command.index("--uri") + 1] == f"http://{name}:6335"
        if name == NODES[0]:
            assert "--bootstrap" not in command
        else:
            assert command[command.index("--bootstrap") + 1] == f"http://{NODES[0]}:6335"
            assert NODES[0] in node["depends_on"]
        assert "ports" not in node, f"{name} publishes a port: the p2p port must stay inside"
    storages = {node["volumes"][0].split(":")[0] for node in map(services.get, NODES) if node}
    assert len(storages) == 3, "each node needs its own storage"


def test_only_the_balancer_is_published_on_loopback() -> None:
    published = {name: s["ports"] for name, s in cluster().items() if s.get("ports")}
    assert list(published) == ["lb"]
    assert published["lb"] == ["127.0.0.1:8080:8080"]
    assert "listen 8080;" in nginx("lb-config")
    assert upstream("lb-config", "app") == [f"{app}:8000" for app in APPS]


def test_apps_and_workers_share_the_settings_storage_and_queue() -> None:
    services = cluster()
    first = services[APPS[0]]
    for name in [*APPS, *WORKERS]:
        service = services[name]
        assert service["build"] == "."
        assert service["environment"] == first["environment"], name
        assert service["volumes"] == first["volumes"], name
    for name in WORKERS:
        assert services[name]["command"] == ["semsearch", "worker"]
    environment = first["environment"]
    assert set(environment) <= setting_names(), set(environment) - setting_names()
    (shared,) = first["volumes"]
    mount = shared.split(":")[1]
    assert environment["SEMSEARCH_INCOMING_DIR"].startswith(mount + "/")
    assert environment["SEMSEARCH_FILES_DIR"].startswith(mount + "/")
    assert urlparse(environment["SEMSEARCH_REDIS_URL"]).hostname == "redis"
    # The settings as compose would pass them are a valid configuration of the app.
    settings = Settings(**substituted(environment))  # type: ignore[arg-type]
    replication = settings.replication()
    assert replication.replication_factor == len(NODES)
    assert replication.write_consistency_factor == 2
    assert replication.read_consistency == "quorum"
    assert replication.write_ordering == "medium"
    assert replication.shard_number and replication.shard_number % len(NODES) == 0


def test_the_apps_reach_every_qdrant_node_and_tei_replica_through_the_backends() -> None:
    environment = cluster()[APPS[0]]["environment"]
    qdrant = urlparse(environment["QDRANT_URL"])
    tei = urlparse(environment["EMBEDDINGS_ENDPOINT"])
    assert qdrant.hostname == tei.hostname == "backends"
    assert f"listen {qdrant.port};" in nginx("backends-config")
    assert f"listen {tei.port};" in nginx("backends-config")
    assert upstream("backends-config", "qdrant") == [f"{node}:6333" for node in NODES]
    assert upstream("backends-config", "tei") == ["tei-1:80", "tei-2:80"]
    for name in ("tei-1", "tei-2"):
        command = cluster()[name]["command"]
        assert command[command.index("--model-id") + 1] == environment["EMBEDDINGS_MODEL"]
        assert command[command.index("--port") + 1] == "80"
    assert environment["EMBEDDINGS_PROVIDER"] == "endpoint"


def test_the_header_says_how_to_start_it() -> None:
    header = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "docker compose --profile cluster up lb worker-1 worker-2" in header
