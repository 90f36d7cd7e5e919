"""Running semsearch as a real process: a free loopback port and a `semsearch serve` child."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

SEMSEARCH = Path(sys.executable).parent / "semsearch"
# Variables of the developer's shell that would change which provider or store a child uses.
CLEARED_ENV = (
    *("HF_TOKEN", "EMBEDDINGS_ENDPOINT", "EMBEDDINGS_PROVIDER", "QDRANT_URL"),
    *("EMBEDDINGS_HF_PROVIDER", "HF_ENDPOINT", "HF_ROUTER_URL", "HF_INFERENCE_BASE_URL"),
    *("EMBEDDINGS_ENDPOINT_NAMESPACE", "HF_ENDPOINTS_API_URL"),
    *("GENERATION_PROVIDER", "GENERATION_MODEL", "GENERATION_ENDPOINT", "GENERATION_TOKEN"),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def child_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SEMSEARCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    for name in CLEARED_ENV:
        env.pop(name, None)
    env.pop("SEMSEARCH_API_KEY", None)
    env.update(extra)
    return env


class ChildProcess:
    """A `semsearch` command as a child; ``kill()`` is a real SIGKILL, as `kill -9` sends.

    What it prints is read as it comes, by a thread of its own: left in the pipe, a busy
    server's access log fills the pipe's 64 KB in seconds, and its next log line then blocks
    the server (a test polling it saw requests time out and SIGTERM go unanswered)."""

    def __init__(self, arguments: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(SEMSEARCH), *arguments],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._printed: list[str] = []
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._printed.append(line)

    def printed(self) -> str:
        """What it has printed so far (it may still be running)."""
        return "".join(self._printed)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> str:
        """A graceful stop (SIGTERM, as Ctrl-C or `docker stop`); returns what it printed."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)
        return self.output()

    def output(self) -> str:
        """What it printed, once it has exited (empty while it runs)."""
        if self.process.poll() is None:
            return ""
        self._reader.join(timeout=10)
        return "".join(self._printed)


class ServerProcess(ChildProcess):
    """`semsearch serve` on a free port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(["serve", "--host", "127.0.0.1", "--port", str(self.port)], env)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"semsearch serve exited:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"semsearch serve did not start in {timeout} s")
