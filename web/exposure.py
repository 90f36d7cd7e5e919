"""What `semsearch serve` and `semsearch embeddings serve` say on start about who can reach them.

With no SEMSEARCH_API_KEY, anyone who can open a connection can read, upload and delete
documents. On 127.0.0.1 (the default) that is only this machine's users: a plain warning. On
any other address (``0.0.0.0`` in Docker, a LAN address) it is the network: a loud one, saying
how to fix it. Pure, so that the words are tested apart from a server.
"""

from __future__ import annotations

import ipaddress
import logging

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; any other name or address may be reachable."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to a public address


def exposure_warnings(host: str, port: int, *, has_key: bool) -> list[tuple[int, str]]:
    """(log level, line) pairs to log before serving on ``host:port``."""
    url = f"http://{host}:{port}"
    if has_key:
        return [
            (
                logging.INFO,
                f"API key set: every /api route on {url} asks for 'Authorization: Bearer <key>'",
            )
        ]
    open_line = (
        f"SEMSEARCH_API_KEY is not set: the API and pages on {url} are open to anyone who can "
        "reach them; they can read, upload and delete documents"
    )
    if is_loopback(host):
        return [(logging.WARNING, open_line + " (only this machine can, on a loopback address)")]
    return [
        (logging.CRITICAL, "!" * 78),
        (logging.CRITICAL, open_line),
        (
            logging.CRITICAL,
            f"{host} is not a loopback address: other machines on the network can reach it. "
            "Set SEMSEARCH_API_KEY, or bind 127.0.0.1 (--host 127.0.0.1; in Docker publish "
            "the port as 127.0.0.1:8000:8000)",
        ),
        (logging.CRITICAL, "!" * 78),
    ]


def embeddings_server_warnings(
    host: str, port: int, *, has_key: bool, remote: bool
) -> list[tuple[int, str]]:
    """(log level, line) pairs for `semsearch embeddings serve` on ``host:port``: a served
    provider spends the owner's CPU, or with a remote provider the owner's ``HF_TOKEN``."""
    url = f"http://{host}:{port}"
    if has_key:
        return [(logging.INFO, f"API key set: every route but /health on {url} asks for it")]
    spends = "the HF_TOKEN's credits" if remote else "this machine's CPU"
    line = f"no --api-key: anyone who reaches {url} can embed texts, spending {spends}"
    if is_loopback(host):
        return [(logging.WARNING, line + " (only this machine can, on a loopback address)")]
    return [
        (logging.CRITICAL, line),
        (
            logging.CRITICAL,
            f"{host} is not a loopback address: other machines can reach it. Set --api-key "
            "(or EMBEDDINGS_SERVE_API_KEY), or bind 127.0.0.1",
        ),
    ]


#: Shorter keys are warned about: the pages' login form is rate-limited, not unguessable.
MIN_KEY_CHARS = 16


def key_warnings(api_key: str) -> list[tuple[int, str]]:
    """A warning for a SEMSEARCH_API_KEY shorter than ``MIN_KEY_CHARS`` characters."""
    if not api_key or len(api_key) >= MIN_KEY_CHARS:
        return []
    return [
        (
            logging.WARNING,
            f"SEMSEARCH_API_KEY is {len(api_key)} characters: use {MIN_KEY_CHARS} or more "
            "(for example `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)",
        )
    ]
