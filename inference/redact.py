"""Passwords in URLs masked, so that an endpoint URL can be shown, logged or put in an error."""

from __future__ import annotations

from urllib.parse import urlparse


def redact_url(value: str) -> str:
    """``value`` with the password of a URL's ``user:password@`` replaced by ``***``, for what
    is shown or logged (an endpoint URL may carry its credentials); other text unchanged."""
    parsed = urlparse(value.strip())
    if parsed.scheme not in ("http", "https") or parsed.password is None:
        return value
    netloc = parsed.netloc.rsplit("@", 1)[1]
    user = parsed.username or ""
    return parsed._replace(netloc=f"{user}:***@{netloc}").geturl()


def redact_urls_in(text: str, *urls: str) -> str:
    """``text`` with each of ``urls`` that carries a password replaced by its redacted form."""
    for url in urls:
        if url and redact_url(url) != url:
            text = text.replace(url, redact_url(url))
    return text


def redact_secrets(text: str, token: str, *urls: str) -> str:
    """``text`` without ``token`` (``***`` in its place) or the passwords of ``urls``: what every
    message built from a server's answer goes through, in case the server echoed them."""
    text = redact_urls_in(text, *urls)
    return text.replace(token, "***") if token else text
