"""Dependencies shared by the routers: the services opened in the lifespan, and the API key."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from web.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_api_key(request: Request, services: ServicesDep) -> None:
    """When SEMSEARCH_API_KEY is set, every /api route asks for ``Authorization: Bearer <key>``."""
    expected = services.settings.api_key.get_secret_value()
    if not expected:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip(), expected):
        raise HTTPException(
            status_code=401,
            detail="this API needs the SEMSEARCH_API_KEY key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
