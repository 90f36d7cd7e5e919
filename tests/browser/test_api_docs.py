"""The OpenAPI page works in Chromium from the app alone, under its Content-Security-Policy.

``/docs`` once loaded Swagger UI from a CDN (``web.api_docs``). Here it is opened by a visitor
who has not logged in to a server with an API key, and must render its operations, open the
"Authorize" dialog and a schema, and run one "Try it out" request (``connect-src``, from
``default-src 'self'``), with no request to any other host, no CSP violation and no console
error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from embeddings.threaded import serve_in_thread
from tests.browser.helpers import desktop_context, screenshot
from web.app import create_app
from web.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# Records what the policy refused; Playwright's init scripts run outside the page's CSP.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, local_provider: object) -> Iterator[str]:
    """The whole app as in ``conftest.server``, but with an API key set."""
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path_factory.mktemp("api-docs"), SEMSEARCH_API_KEY="docs-key-7c1"
    )
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with serve_in_thread(app, lifespan="on", start_timeout_s=120) as url:
        yield url


class Watch:
    """Every URL a page requested, what its policy refused, and its console errors."""

    def __init__(self, page: Any) -> None:
        self.urls: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.add_init_script(RECORD_VIOLATIONS)

    def elsewhere(self, server: str) -> list[str]:
        """Requested URLs of any other host (``data:`` and ``blob:`` URLs have none)."""
        own = urlsplit(server).netloc
        return [u for u in self.urls if urlsplit(u).netloc not in ("", own)]

    def violations(self, page: Any) -> list[str]:
        return list(page.evaluate("window.__cspViolations"))


def test_swagger_ui_renders_and_runs_a_request_from_the_app_alone(
    page: Any, server: str, tmp_path: Path
) -> None:
    watch = Watch(page)
    response = page.goto("/docs")
    assert response.status == 200
    assert "script-src 'self' 'sha256-" in response.headers["content-security-policy"]
    expect(page.locator(".opblock").first).to_be_visible()

    page.get_by_role("button", name="Authorize").first.click()
    expect(page.locator(".modal-ux")).to_be_visible()
    page.locator(".modal-ux .close-modal").click()
    schema = page.locator("section.models article.json-schema-2020-12").first
    schema.locator(".json-schema-2020-12-accordion").click()
    expect(schema.locator(".json-schema-2020-12-property").first).to_be_visible()

    health = page.locator(".opblock", has=page.locator("[data-path='/api/health']"))
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    status = health.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    screenshot(page, tmp_path, "api-docs-swagger")

    assert watch.elsewhere(server) == []
    assert watch.violations(page) == []
    assert watch.errors == []
    paths = {urlsplit(u).path for u in watch.urls}
    assert {"/static/api-docs/swagger-ui-bundle.js", "/openapi.json", "/api/health"} <= paths


def test_the_oauth2_redirect_script_runs_under_its_policy(browser: Any, server: str) -> None:
    """Opened without Swagger as its opener, the page's one script fails on ``window.opener``:
    proof that the policy let it run (a refused script reports a violation instead)."""
    context = desktop_context(browser, server)
    page = context.new_page()
    watch = Watch(page)
    response = page.goto("/docs/oauth2-redirect")
    assert response.status == 200
    page.wait_for_load_state("load")
    assert watch.violations(page) == []
    assert any("swaggerUIRedirectOauth2" in error for error in watch.errors), watch.errors
    assert watch.elsewhere(server) == []
    context.close()
