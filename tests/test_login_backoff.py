"""The pages' login backs off per client after wrong keys, and short keys are warned about.

Through the real app (TestClient; every request comes from the client address
``testclient``): five wrong keys are each answered 401; from the fifth on, the next attempt
must wait (1 s, then 2, 4 ... at most 15 minutes), and one made during the wait is a 429 with
``Retry-After``, the key not even compared.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from web.app import create_app
from web.exposure import key_warnings
from web.login_throttle import FREE_FAILURES, MAX_CLIENTS, LoginThrottle
from web.settings import Settings

pytestmark = pytest.mark.slow

KEY = "backoff-test-key-8c2f71"


@pytest.fixture
def client(tmp_path: Path, local_provider: object) -> Iterator[TestClient]:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_API_KEY=KEY)
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def attempt(client: TestClient, key: str) -> Any:
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token, page.text
    return client.post("/login", data={"key": key, "next": "/", "login_token": token.group(1)})


def test_wrong_keys_back_off_and_a_wait_is_not_spent_on_comparing(client: TestClient) -> None:
    for _ in range(FREE_FAILURES):
        assert attempt(client, "guess").status_code == 401
    refused = attempt(client, KEY)  # the right key, during the wait: not compared
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert "Too many wrong keys" in refused.text
    time.sleep(1.1)
    assert attempt(client, KEY).status_code == 303  # in, and the count is cleared
    client.cookies.clear()  # logged out again
    assert attempt(client, "guess").status_code == 401  # one wrong key: no wait yet
    assert attempt(client, KEY).status_code == 303


def test_the_wait_doubles_and_the_table_stays_bounded() -> None:
    throttle = LoginThrottle()
    for _ in range(FREE_FAILURES + 3):
        throttle.failed("10.0.0.1")
    assert 7 <= throttle.wait("10.0.0.1") <= 8  # 2 ** 3 s
    assert throttle.wait("10.0.0.2") == 0
    for n in range(MAX_CLIENTS + 5):
        throttle.failed(f"client-{n}")
    assert throttle.wait("10.0.0.1") == 0  # the oldest entries went first


def test_a_short_key_is_warned_about() -> None:
    ((level, line),) = key_warnings("short-key")
    assert level == logging.WARNING and "9 characters" in line
    assert key_warnings(KEY) == [] and key_warnings("") == []
