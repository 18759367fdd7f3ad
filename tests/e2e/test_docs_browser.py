"""``/docs`` in a real headless Chromium: Swagger UI renders every operation of the OpenAPI 3.1 document under the
page's strict CSP, with no console error and no request beyond loopback."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Browser, Route, expect

from tests.e2e.conftest import Gateway

# Records CSP violations from inside the page: Chromium also logs them to the console, but this cannot be missed.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def documented_operations(gateway: Gateway) -> set[str]:
    """The document's operations and the webhooks it declares (Swagger UI lists both, a webhook by its name)."""
    document = httpx.get(f"{gateway.url}/openapi.json", timeout=10).json()
    operations = set()
    for section in ("paths", "webhooks"):
        items: dict[str, dict[str, object]] = document.get(section, {})
        operations |= {f"{m.upper()} {name}" for name, item in items.items() for m in item if m in HTTP_METHODS}
    return operations


async def test_docs_render_every_operation_of_the_openapi_31_document(
    browser: Browser, gateway: Gateway, tmp_path: Path
) -> None:
    context = await browser.new_context()
    await context.add_init_script(WATCH_CSP)
    outside: list[str] = []

    async def loopback_only(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in {"127.0.0.1", "::1", "localhost"} or url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            outside.append(url)
            await route.abort()

    await context.route("**/*", loopback_only)
    page = await context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))

    response = await page.goto(f"{gateway.url}/docs")
    assert response is not None and response.ok
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp

    operations = page.locator(".opblock")
    await expect(operations.first).to_be_visible(timeout=20_000)
    await expect(page.locator('.opblock-post [data-path="/v1/payments/initialize"]')).to_be_visible()
    await expect(page.locator('.opblock-get [data-path="/v1/payments/{payment_id}/verify"]')).to_be_visible()

    rendered = {
        f"{await block.locator('.opblock-summary-method').inner_text()} "
        f"{await block.locator('.opblock-summary-path').get_attribute('data-path')}"
        for block in await operations.all()
    }
    assert rendered == documented_operations(gateway)

    await page.screenshot(path=tmp_path / "docs.png", full_page=True)

    # Open one operation: Swagger UI builds its example body from the 3.1 schema, fields and all.
    await page.locator('.opblock-post [data-path="/v1/payments/initialize"]').click()
    initialize = page.locator(".opblock-post.is-open")
    await expect(initialize.locator(".opblock-section-request-body")).to_contain_text("Request body")
    example = initialize.locator(".opblock-section-request-body .highlight-code").first
    await expect(example).to_contain_text('"return_url"')
    await expect(example).to_contain_text('"customer"')

    body = await page.locator("body").inner_text()
    assert "Unable to render" not in body
    assert await page.locator(".errors-wrapper").count() == 0
    assert await page.evaluate("window.__cspViolations") == []
    assert console_errors == []
    assert failed == []
    assert outside == []
    await context.close()
