"""How the function app serves the widget: security headers, caching, compression, size, settings."""

from __future__ import annotations

import gzip
import json
import re

import httpx
import pytest

from browser_support import WIDGET_KEY

PAGE_BUDGET_BYTES = 16 * 1024  # page + script + style sheet, gzipped: quick on a slow phone connection


def get(stack, path: str, **headers) -> httpx.Response:
    return httpx.get(stack.url(path), headers=headers, timeout=10)


def page_config(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="fd-config">(.*?)</script>', html, re.S)
    assert match, "the page carries its configuration"
    return json.loads(match.group(1))


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(widget/[^"]+)"', html)


def test_the_page_is_framed_only_by_allowed_origins_and_never_cached(widget_stack, outside):
    response = get(widget_stack, "widget")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {outside.site_origin} {outside.crm_origin}" in policy
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy and "default-src 'none'" in policy
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_page_hands_the_browser_the_widget_key_and_the_calling_code(widget_stack, outside):
    config = page_config(get(widget_stack, "widget").text)
    assert config == {"functionKey": WIDGET_KEY, "allowedOrigins": [outside.site_origin, outside.crm_origin],
                      "phoneCountryCode": "1", "defaultRegion": "US"}


def test_versioned_assets_are_cached_for_a_year_and_others_revalidate(widget_stack):
    html = get(widget_stack, "widget").text
    urls = asset_urls(html)
    assert sorted(url.split("?")[0] for url in urls) == ["widget/widget.css", "widget/widget.js"]
    for url in urls:
        versioned = get(widget_stack, url)
        assert versioned.status_code == 200
        assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
        plain = get(widget_stack, url.split("?")[0])
        assert plain.headers["cache-control"] == "public, max-age=300"
        assert plain.content == versioned.content
        again = get(widget_stack, url.split("?")[0], **{"If-None-Match": plain.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
    assert get(widget_stack, "widget/widget.js").headers["content-type"] == "text/javascript; charset=utf-8"
    assert get(widget_stack, "widget/widget.css").headers["content-type"] == "text/css; charset=utf-8"


def test_a_stale_version_is_not_cached_forever(widget_stack):
    response = get(widget_stack, "widget/widget.js?v=000000000000")
    assert response.headers["cache-control"] == "public, max-age=300"


def test_the_whole_widget_is_small_on_the_wire(widget_stack):
    total = 0
    page = httpx.get(widget_stack.url("widget"), headers={"Accept-Encoding": "gzip"}, timeout=10)
    for response in [page] + [get(widget_stack, url, **{"Accept-Encoding": "gzip"}) for url in asset_urls(page.text)]:
        assert response.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["vary"]
        total += int(response.headers["content-length"])
    assert total < PAGE_BUDGET_BYTES, f"widget is {total} bytes gzipped"


def test_unknown_files_and_paths_are_not_served(widget_stack):
    for path in ("widget/index.html", "widget/nothing.js", "widget/../host.json", "widget/%2e%2e/function_app.py"):
        response = get(widget_stack, path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


def test_the_embed_script_loads_anywhere_and_answers_cors_for_allowed_sites(widget_stack, outside):
    allowed = get(widget_stack, "widget/embed.js", Origin=outside.site_origin)
    assert allowed.status_code == 200
    assert allowed.headers["cross-origin-resource-policy"] == "cross-origin"
    assert allowed.headers["access-control-allow-origin"] == outside.site_origin
    assert "Origin" in allowed.headers["vary"]
    assert allowed.headers["cache-control"] == "public, max-age=300"  # fixed URL: never immutable
    stranger = get(widget_stack, "widget/embed.js", Origin="https://elsewhere.example.com")
    assert stranger.status_code == 200 and "access-control-allow-origin" not in stranger.headers


def test_gzip_is_only_sent_to_browsers_that_accept_it(widget_stack):
    plain = httpx.get(widget_stack.url("widget/widget.js"), headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "content-encoding" not in plain.headers
    squeezed = httpx.get(widget_stack.url("widget/widget.js"), headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert squeezed.headers["content-encoding"] == "gzip"
    assert squeezed.content == plain.content  # httpx decodes; the bytes are the same file
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


# ---------------------------------------------------------------- settings and policy, without a browser

@pytest.fixture
def no_widget_env(monkeypatch):
    """The development host puts the stack's settings in the environment; these tests name their own."""
    import os
    for name in [n for n in os.environ if n.upper().startswith("WIDGET__")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize("value, problem", [
    ("*", "name the origins"),
    ("http://www.example.com", "must use https"),
    ("https://www.example.com/booking", "is not an origin"),
    ("https://*", "wildcard"),
    ("https://a*.example.com", "wildcard"),
])
def test_allowed_origins_must_be_real_origins(value, problem, no_widget_env):
    from shared.config import SettingsError, load_settings
    with pytest.raises(SettingsError) as caught:
        load_settings(storage={"connection_string": "x"}, widget={"allowed_origins": value})
    assert caught.value.problems[0][0] == "WIDGET__ALLOWED_ORIGINS"
    assert problem in caught.value.problems[0][1]


def test_allowed_origins_are_normalised_and_wildcards_match_subdomains_only(no_widget_env):
    from shared.config import load_settings
    from triggers.widget import origin_allowed
    settings = load_settings(storage={"connection_string": "x"}, widget={
        "allowed_origins": "https://WWW.Example.com/, https://*.contoso.com  http://localhost:8080"})
    origins = settings.widget.origins
    assert origins == ("https://www.example.com", "https://*.contoso.com", "http://localhost:8080")
    assert origin_allowed("https://www.example.com", origins)
    assert origin_allowed("https://org.crm.contoso.com", origins)
    assert not origin_allowed("https://contoso.com.evil.example", origins)
    assert not origin_allowed("http://org.contoso.com", origins)
    assert not origin_allowed("https://evilcontoso.com", origins)


def test_an_unresolved_key_vault_reference_is_no_key(no_widget_env):
    from shared.config import load_settings
    from triggers.widget import usable_key
    reference = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/widget-function-key)"
    settings = load_settings(storage={"connection_string": "x"}, widget={"function_key": reference})
    assert usable_key(settings) is None
    assert usable_key(load_settings(storage={"connection_string": "x"}, widget={"function_key": "k1"})) == "k1"
    assert usable_key(load_settings(storage={"connection_string": "x"})) is None


SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400 * 1000 / 8, "uploadThroughput": 400 * 1000 / 8}


def test_services_appear_within_three_seconds_on_a_slow_3g_connection(page, widget_stack):
    import time
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)  # Chrome DevTools' "Slow 3G": 400 ms, 400 kbit/s
    began = time.monotonic()
    page.goto(widget_stack.url("widget"))
    page.locator("#fd-services button").first.wait_for()
    elapsed = time.monotonic() - began
    print(f"services shown after {elapsed:.2f} s on emulated slow 3G")
    assert elapsed < 3.0
