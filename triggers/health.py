"""``GET /api/health``: are the settings valid and is storage reachable? 200 or 503, no secrets."""

from __future__ import annotations

import asyncio

import azure.durable_functions as df
import azure.functions as func

from shared.config import SettingsError, get_settings
from shared.http import json_response
from shared.logs import get_logger
from shared.runtime import ensure_started

bp = df.Blueprint()
log = get_logger(__name__)

STORAGE_TIMEOUT_SECONDS = 3.0


async def check_storage(settings) -> dict:
    from shared.adapters.storage import ping_storage
    try:
        await asyncio.wait_for(ping_storage(settings), STORAGE_TIMEOUT_SECONDS)
        return {"ok": True}
    except asyncio.TimeoutError:
        return {"ok": False, "reason": f"no answer within {STORAGE_TIMEOUT_SECONDS:g} s"}
    except Exception as exc:  # health must report, not raise
        log.warning("storage health check failed: %s", type(exc).__name__)
        return {"ok": False, "reason": f"{type(exc).__name__}: storage refused or unreachable"}


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    """Report readiness; 503 names what is wrong so IT can fix it."""
    ensure_started()
    checks: dict[str, dict] = {}
    try:
        settings = get_settings()
        checks["settings"] = {"ok": True}
    except SettingsError as exc:
        settings = None
        checks["settings"] = {"ok": False, "problems": [{"setting": n, "message": m} for n, m in exc.problems]}
    checks["storage"] = await check_storage(settings) if settings else {"ok": False, "reason": "settings invalid"}
    healthy = all(check["ok"] for check in checks.values())
    return json_response({"status": "ok" if healthy else "unhealthy", "checks": checks}, 200 if healthy else 503)
