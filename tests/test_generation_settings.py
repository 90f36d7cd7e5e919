"""The text-generation node's settings as the app reads them, shown on /settings and its API
(token masked), and checked by "Test connection" and ``semsearch generation check``; against
FakeChat, a real loopback server speaking the chat-completions wire format."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fake_chat import FakeChat
from tests.processes import SEMSEARCH, child_env, free_port
from web.app import create_app
from web.settings import Settings

TOKEN = "hf_answersTOKEN0123456789"
OWN = "endpoint-token-0123456789"
MODEL = "Qwen/Qwen2.5-7B-Instruct:fastest"


def test_the_app_settings_build_the_node_settings(tmp_path: Path) -> None:
    plain = Settings(SEMSEARCH_DATA_DIR=tmp_path, HF_TOKEN=TOKEN, GENERATION_MODEL=f" {MODEL} ")
    configured = plain.generation()
    assert (configured.model, configured.token_setting) == (MODEL, "HF_TOKEN")
    assert configured.token.get_secret_value() == TOKEN
    assert configured.router_url == "https://router.huggingface.co"
    own = Settings(
        SEMSEARCH_DATA_DIR=tmp_path,
        HF_TOKEN=TOKEN,
        GENERATION_TOKEN=OWN,
        GENERATION_ENDPOINT="http://127.0.0.1:8080/v1/",
        HF_ROUTER_URL="http://router.test/",
        GENERATION_CONTEXT_TOKENS=1500,
        GENERATION_CONNECT_TIMEOUT_S=3,
        GENERATION_READ_TIMEOUT_S=20,
        GENERATION_FIRST_TOKEN_TIMEOUT_S=600,
        GENERATION_TOTAL_TIMEOUT_S=900,
    ).generation()
    assert (own.token.get_secret_value(), own.token_setting) == (OWN, "GENERATION_TOKEN")
    assert (own.router_url, own.context_tokens) == ("http://router.test", 1500)
    timeouts = (
        own.connect_timeout_s,
        own.read_timeout_s,
        own.first_token_timeout_s,
        own.total_timeout_s,
    )
    assert timeouts == (3, 20, 600, 900)
    assert (configured.read_timeout_s, configured.first_token_timeout_s) == (60, 120)


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    with FakeChat(token=TOKEN, known_models={MODEL}) as fake:
        yield fake


def _client(tmp_path: Path, local_provider: object, **env: str) -> TestClient:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", EMBEDDINGS_CACHE="off", **env)
    return TestClient(create_app(settings, embedder=local_provider))  # type: ignore[arg-type]


def test_settings_show_the_configuration_and_test_the_connection(
    tmp_path: Path, local_provider: object, chat: FakeChat
) -> None:
    env = {"HF_TOKEN": TOKEN, "GENERATION_MODEL": MODEL, "HF_ROUTER_URL": chat.url}
    with _client(tmp_path, local_provider, **env) as client:
        config = client.get("/api/settings/generation").json()
        assert config["provider"] == "hf"
        assert config["model"] == MODEL
        assert config["endpoint"] == f"{chat.url}/v1/chat/completions"
        assert config["token"] == f"hf_… ({len(TOKEN)} characters)"
        report = client.post("/api/generation/check").json()
        assert report["ok"] is True, report
        assert report["reply"] == "You asked: Reply with the single word OK."
        page = client.get("/settings").text
        assert "Answers (text generation)" in page and MODEL in page
        checked = client.post("/settings/generation-check").text
        assert "Connection works" in checked
        chat.fail_next(401)
        refused = client.post("/settings/generation-check").text
        assert "Connection failed" in refused and "rejected HF_TOKEN" in refused
        for text in (json.dumps(config), json.dumps(report), page, checked, refused):
            assert TOKEN not in text
    assert [r.json["model"] for r in chat.requests] == [MODEL] * 3


def test_answers_off_and_broken_settings_are_said_not_hidden(
    tmp_path: Path, local_provider: object
) -> None:
    with _client(tmp_path, local_provider) as client:
        config = client.get("/api/settings/generation").json()
        assert config["provider"] == "none"
        assert "set GENERATION_MODEL" in config["reason"]
        report = client.post("/api/generation/check").json()
        assert report["ok"] is False and "answers are off" in report["error"]
    with _client(tmp_path, local_provider, GENERATION_PROVIDER="hf") as client:
        config = client.get("/api/settings/generation").json()
        assert "needs GENERATION_MODEL" in config["error"]
        assert client.get("/api/health").status_code == 200  # search still works without it
        assert "needs GENERATION_MODEL" in client.get("/settings").text


def _check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SEMSEARCH), "generation", "check", "--json"],
        env=child_env(tmp_path / "data", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_check_reports_and_exits_by_its_outcome(tmp_path: Path, chat: FakeChat) -> None:
    env = {"HF_TOKEN": TOKEN, "GENERATION_MODEL": MODEL, "HF_ROUTER_URL": chat.url}
    ok = _check(tmp_path, **env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True

    chat.fail_next(402)
    broke = _check(tmp_path, **env)
    assert broke.returncode == 1
    report = json.loads(broke.stdout)
    assert "out of credits" in report["error"]
    assert TOKEN not in broke.stdout + broke.stderr

    gone = _check(tmp_path, GENERATION_ENDPOINT=f"http://127.0.0.1:{free_port()}/v1")
    assert gone.returncode == 1
    assert "cannot reach" in json.loads(gone.stdout)["error"]
    off = _check(tmp_path)
    assert off.returncode == 1 and "answers are off" in json.loads(off.stdout)["error"]
