"""Errors raised by the text-generation node; each names the setting a user should look at, and
none ever contains the token. The web edge (``web.errors``) maps each class to an HTTP status."""

from __future__ import annotations

from inference.errors import SemsearchError


class GenerationError(SemsearchError):
    """Generating failed, and trying again as it is will not help."""

    def __init__(
        self,
        message: str,
        *,
        setting: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        if request_id:
            message = f"{message} (request id {request_id})"
        super().__init__(message)
        self.setting = setting
        self.status = status
        self.request_id = request_id


class GenerationConfigError(GenerationError):
    """The settings cannot work as they are: answers are off until they are fixed."""


class GenerationOffError(GenerationConfigError):
    """No text-generation provider is configured (``GENERATION_PROVIDER`` resolves to none)."""


class GenerationUnavailableError(GenerationError):
    """The service refused (token, credits, model, endpoint) or could not be reached."""


class GenerationServiceError(GenerationError):
    """The service answered with an error this request cannot get past (a 400, say)."""


class GenerationResponseError(GenerationError):
    """The service answered with something that is not a chat completion."""


class GenerationBrokenOffError(GenerationError):
    """The answer stopped after its first tokens (an error event, a dropped connection, a
    stall): what was relayed stays relayed, and nothing is tried again."""
