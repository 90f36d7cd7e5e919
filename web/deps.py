"""Dependencies shared by the routers: the services opened in the lifespan, and the API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBearer

from web.guard import API_KEY_MESSAGE, has_api_key
from web.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

# Declares the scheme in the OpenAPI document (the "Authorize" button of /docs); the check is ours.
_bearer = HTTPBearer(auto_error=False, description="SEMSEARCH_API_KEY, when the server sets one")


def caller_has_api_key(request: Request, services: ServicesDep) -> bool:
    """True when no SEMSEARCH_API_KEY is set, or the request carries it."""
    return has_api_key(request.headers, services.settings.api_key.get_secret_value())


def require_api_key(
    request: Request, services: ServicesDep, _: Annotated[object, Depends(_bearer)] = None
) -> None:
    """When SEMSEARCH_API_KEY is set, every /api route asks for ``Authorization: Bearer <key>``.

    ``web.guard.RequestGuard`` already refuses such requests before their body is read; this
    second check keeps a route safe if it is ever mounted without the guard, and documents the
    scheme in the OpenAPI document."""
    if not caller_has_api_key(request, services):
        raise HTTPException(
            status_code=401, detail=API_KEY_MESSAGE, headers={"WWW-Authenticate": "Bearer"}
        )
