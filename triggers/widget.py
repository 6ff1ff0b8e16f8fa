"""``GET /api/widget`` and its assets: the embeddable booking widget, served with a strict security policy.

- ``GET widget`` is the widget page (``web/widget/index.html``) with its configuration filled in: the
  low-privilege ``widget`` function key the page books with (``WIDGET__FUNCTION_KEY``), the origins that
  may frame it and talk to it (``WIDGET__ALLOWED_ORIGINS``) and the calling code of ``SMS__DEFAULT_REGION``
  for phone numbers typed without one. It is never cached (it carries the key) and is framed only by
  those origins (CSP ``frame-ancestors``).
- ``GET widget/{asset}`` serves the page's script and style sheet (and ``embed.js``, the one-tag embed).
  A URL carrying the asset's content hash (``?v=``, written into the page) is cached for a year; without
  it an asset is cached for five minutes and revalidated by ETag. Text is gzipped when the browser
  accepts it: the whole widget is a few kilobytes on the wire.

Every answer has ``X-Content-Type-Options: nosniff``; the page's Content-Security-Policy allows only its
own script, style and API (no inline script, no third party). Files are read once per process, from a
fixed list (no path from the URL ever reaches the file system).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

from shared.http import error_response
from shared.logs import get_logger
from shared.runtime import ensure_started

bp = df.Blueprint()
log = get_logger(__name__)

WIDGET_DIR = Path(__file__).resolve().parent.parent / "web" / "widget"
PAGE = "index.html"
CONFIG_MARKER = "{{config}}"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
ONE_YEAR = "public, max-age=31536000, immutable"
FIVE_MINUTES = "public, max-age=300"
# Sites embed embed.js by a fixed URL, so it is never "immutable"; a change reaches them within minutes.
EMBED = "embed.js"
KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


@dataclass(frozen=True)
class Asset:
    """One file of the widget, read once: its bytes, gzipped bytes, content type and content hash."""

    name: str
    body: bytes
    gzipped: bytes
    content_type: str
    version: str

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    return Asset(name=path.name, body=body, gzipped=gzip.compress(body, 9, mtime=0),
                 content_type=CONTENT_TYPES[path.suffix], version=hashlib.sha256(body).hexdigest()[:12])


@functools.cache
def assets() -> dict[str, Asset]:
    """The widget's servable files by name (the page template is not one of them)."""
    return {path.name: _load(path) for path in sorted(WIDGET_DIR.iterdir())
            if path.is_file() and path.suffix in CONTENT_TYPES and path.name != PAGE}


@functools.cache
def page_template() -> str:
    """The page with each ``{{asset:name}}`` replaced by that asset's versioned URL."""
    text = (WIDGET_DIR / PAGE).read_text(encoding="utf-8")
    for name, asset in assets().items():
        text = text.replace("{{asset:%s}}" % name, f"widget/{name}?v={asset.version}")
    return text


# ---------------------------------------------------------------- settings -> policy

def usable_key(settings) -> str | None:
    """The widget's function key, or None when unset or when Azure left a Key Vault reference unresolved."""
    secret = settings.widget.function_key
    value = secret.get_secret_value().strip() if secret else ""
    if value.startswith(KEY_VAULT_REFERENCE):
        log.warning("WIDGET__FUNCTION_KEY is an unresolved Key Vault reference (does the vault hold "
                    "'widget-function-key'?); the widget will show times but cannot book")
        return None
    return value or None


def content_security_policy(origins: tuple[str, ...]) -> str:
    """Own script, style and API only; framed by the function app itself and the allowed origins."""
    ancestors = " ".join(("'self'",) + origins)
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors {ancestors}")


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    """Is ``origin`` one of ``allowed`` (where ``https://*.example.com`` stands for its subdomains)?"""
    if not origin:
        return False
    origin = origin.lower().rstrip("/")
    for pattern in allowed:
        if origin == pattern:
            return True
        if "://*." in pattern:
            scheme, rest = pattern.split("://*.", 1)
            if origin.startswith(scheme + "://") and origin.endswith("." + rest):
                return True
    return False


def phone_country_code(region: str) -> str:
    """The calling code for numbers typed without one (``US`` -> ``1``)."""
    import phonenumbers
    return str(phonenumbers.country_code_for_region(region) or "")


def widget_config(settings) -> dict:
    """What the page's script needs; rendered into the page as JSON (not as script)."""
    return {
        "functionKey": usable_key(settings),
        "allowedOrigins": list(settings.widget.origins),
        "phoneCountryCode": phone_country_code(settings.sms.default_region),
        "defaultRegion": settings.sms.default_region,
    }


def render_page(config: dict) -> bytes:
    # "<" is escaped so that no value can close the JSON's <script> element.
    data = json.dumps(config, separators=(",", ":")).replace("<", "\\u003c")
    return page_template().replace(CONFIG_MARKER, data).encode("utf-8")


# ---------------------------------------------------------------- responses

def accepts_gzip(req: func.HttpRequest) -> bool:
    return "gzip" in (req.headers.get("accept-encoding") or "").lower()


def text_response(req: func.HttpRequest, body: bytes, content_type: str, headers: dict[str, str],
                  gzipped: bytes | None = None, status: int = 200) -> func.HttpResponse:
    vary = ", ".join(filter(None, ("Accept-Encoding", headers.get("Vary"))))
    headers = {**BASE_HEADERS, **headers, "Vary": vary}
    if accepts_gzip(req) and body:
        body = gzipped if gzipped is not None else gzip.compress(body, 6, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return func.HttpResponse(body=body, status_code=status, headers={**headers, "Content-Type": content_type})


def cors_headers(req: func.HttpRequest, origins: tuple[str, ...]) -> dict[str, str]:
    """CORS for an allowed origin (a site fetching embed.js with ``crossorigin``); nothing otherwise."""
    origin = req.headers.get("origin")
    if origin_allowed(origin, origins):
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {}


def serve_asset(req: func.HttpRequest, asset: Asset, origins: tuple[str, ...]) -> func.HttpResponse:
    versioned = req.params.get("v") == asset.version and asset.name != EMBED
    headers = {"Cache-Control": ONE_YEAR if versioned else FIVE_MINUTES, "ETag": asset.etag,
               **cors_headers(req, origins)}
    if asset.name == EMBED:
        # Any site may load the embed script; framing is what the allowed origins restrict.
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    if asset.etag in [tag.strip() for tag in (req.headers.get("if-none-match") or "").split(",")]:
        return func.HttpResponse(status_code=304, headers={**BASE_HEADERS, **headers})
    return text_response(req, asset.body, asset.content_type, headers, asset.gzipped)


def page_response(req: func.HttpRequest) -> func.HttpResponse:
    """The page with its configuration and security headers (503 when the app settings are invalid)."""
    from shared.config import SettingsError, get_settings
    try:
        settings = get_settings()
    except SettingsError:
        log.error("widget page: app settings invalid (GET /api/health names them)")
        return error_response(503, "not_configured", "Online booking is not available right now.")
    headers = {
        "Cache-Control": "no-store",  # the page carries the widget's function key
        "Content-Security-Policy": content_security_policy(settings.widget.origins),
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    return text_response(req, render_page(widget_config(settings)), CONTENT_TYPES[".html"], headers)


# ---------------------------------------------------------------- routes

@bp.route(route="widget", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def widget_page(req: func.HttpRequest) -> func.HttpResponse:
    """The widget page; a query such as ``?eventType=plumbing-repair`` preselects a service."""
    ensure_started()
    return page_response(req)


@bp.route(route="widget/{*asset}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def widget_asset(req: func.HttpRequest) -> func.HttpResponse:
    """A script or style sheet of the widget, by name."""
    ensure_started()
    from shared.config import SettingsError, get_settings
    name = req.route_params.get("asset") or ""
    if name in ("", "/"):
        # A catch-all segment may be empty, so this route can also match ``widget`` itself.
        return page_response(req)
    asset = assets().get(name)
    if asset is None:
        return error_response(404, "not_found", "No such widget file.", headers=BASE_HEADERS)
    try:
        origins = get_settings().widget.origins
    except SettingsError:
        origins = ()
    return serve_asset(req, asset, origins)
