"""The proxy's key check: the master key or HTTP 401, on every route that asks for a key.

LiteLLM's own check answers a wrong key with HTTP 400 "No connected db." when no database is
configured (it looks the key up as a virtual key), and serves ``/routes`` to anyone. A cost
router has no virtual keys, so the rendered proxy YAML sets
``general_settings.custom_auth: litellm_hooks.proxy_auth.user_api_key_auth``: the master key
is accepted as LiteLLM accepts it (a proxy admin under a stable alias, never the key itself),
anything else is a 401. The pages a cost router does not need (admin UI, Swagger, ReDoc,
OpenAPI schema) are switched off by :data:`PROXY_HARDENING_ENV`, which ``costrouter serve``
sets for the proxy process; LiteLLM still mounts the admin UI's static files whatever
``DISABLE_ADMIN_UI`` says, so :func:`close_admin_pages` unmounts them when the proxy loads
this hook (``litellm_hooks.proxy_callbacks.auth``).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from typing import Any

__all__ = ["CUSTOM_AUTH", "PROXY_HARDENING_ENV", "close_admin_pages", "hardened_env", "user_api_key_auth"]

logger = logging.getLogger(__name__)

# Resolved by the proxy on config load (litellm_hooks.proxy_callbacks), which also closes the UI.
CUSTOM_AUTH = "litellm_hooks.proxy_callbacks.auth"
# Static mounts of LiteLLM's admin UI and Swagger assets.
_ADMIN_MOUNTS = frozenset({"/ui", "/_next", "/litellm-asset-prefix/_next", "/swagger"})

# Read by LiteLLM when its proxy app is created: no admin UI, no docs pages, no OpenAPI schema.
PROXY_HARDENING_ENV: dict[str, str] = {
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
    "NO_REDOC": "True",
    "NO_OPENAPI": "True",
}


def hardened_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with :data:`PROXY_HARDENING_ENV` added (a value set in ``environ`` wins)."""
    return {**PROXY_HARDENING_ENV, **environ}


def close_admin_pages(app: Any = None) -> int:
    """Unmounts the admin UI's static files (and Swagger's) when ``DISABLE_ADMIN_UI`` is true.

    Args:
        app: The proxy's FastAPI app (default: LiteLLM's ``proxy_server.app``).

    Returns:
        How many mounts were removed.
    """
    if os.environ.get("DISABLE_ADMIN_UI", "").strip().lower() not in {"1", "true", "yes", "on"}:
        return 0
    if app is None:
        from litellm.proxy.proxy_server import app
    routes = app.router.routes
    keep = [r for r in routes if getattr(r, "path", None) not in _ADMIN_MOUNTS or not hasattr(r, "app")]
    removed = len(routes) - len(keep)
    routes[:] = keep
    if removed:
        logger.info("costrouter: admin UI and docs assets unmounted (%d mounts)", removed)
    return removed


def _unauthorized(message: str) -> Exception:
    from litellm.proxy._types import ProxyErrorTypes, ProxyException

    return ProxyException(message=message, type=ProxyErrorTypes.auth_error, param="api_key", code=401)


async def user_api_key_auth(request: Any, api_key: str) -> Any:
    """LiteLLM's ``custom_auth`` hook: the proxy master key or a 401.

    Args:
        request: The incoming request (unused: every route is checked the same way).
        api_key: The key LiteLLM read from the request (``Authorization: Bearer ...`` and the
            other headers it knows).

    Returns:
        A ``UserAPIKeyAuth`` of the proxy admin, as LiteLLM's own master-key check returns.

    Raises:
        ProxyException: HTTP 401 for a missing or wrong key.
    """
    from litellm.constants import LITELLM_PROXY_MASTER_KEY_ALIAS
    from litellm.proxy import proxy_server
    from litellm.proxy._types import LitellmUserRoles, UserAPIKeyAuth

    master = getattr(proxy_server, "master_key", None)
    if not isinstance(master, str) or not master:
        raise _unauthorized("the proxy has no master key configured")
    if not api_key:
        raise _unauthorized("missing API key: send Authorization: Bearer <proxy master key>")
    if not secrets.compare_digest(api_key.encode("utf-8", "surrogatepass"), master.encode("utf-8", "surrogatepass")):
        raise _unauthorized("invalid API key")
    return UserAPIKeyAuth(
        api_key=LITELLM_PROXY_MASTER_KEY_ALIAS,
        user_role=LitellmUserRoles.PROXY_ADMIN,
        user_id=proxy_server.litellm_proxy_admin_name,
    )
