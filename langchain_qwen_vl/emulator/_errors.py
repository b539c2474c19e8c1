"""Error bodies in the service's shapes, and the exception that carries one to the HTTP layer.

Every body here copies a recorded or documented DashScope body: the OpenAI-compatible error object
``{"error": {message, type, param, code}}`` plus a top-level ``id`` (400/404) or
``request_id`` (401).
"""

from __future__ import annotations

import uuid
from typing import Any

#: The prefix DashScope puts on parameter errors (see compat-error-400-image-download.pyrepr.txt).
INVALID_PARAMETER_PREFIX = "<400> InternalError.Algo.InvalidParameter: "

#: compat-error-401.json, verbatim.
UNAUTHORIZED_MESSAGE = "Incorrect API key provided. "

#: The recorded "Failed to download multimodal content" message.
DOWNLOAD_FAILED_MESSAGE = INVALID_PARAMETER_PREFIX + "Failed to download multimodal content"

RATE_LIMIT_MESSAGE = "Requests rate limit exceeded, please try again later."
INTERNAL_ERROR_MESSAGE = (
    "An internal error has occured, please try again later or contact service support."
)


def new_request_id() -> str:
    """A fresh request id in the service's format (a UUID)."""
    return str(uuid.uuid4())


class ServiceError(Exception):
    """A request the emulated service refuses; ``body()`` is what goes on the wire."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str = "invalid_parameter_error",
        type: str = "invalid_request_error",  # mirrors the wire field name
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.type = type
        self.param = param

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON body, with the request id where the service puts it for this status."""
        error = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        if self.status == 401:
            return {"error": error, "request_id": request_id}
        return {"error": error, "id": f"chatcmpl-{request_id}"}


def invalid_parameter(detail: str, *, param: str | None = None) -> ServiceError:
    """A 400 ``invalid_parameter_error`` worded like the service: ``<400> InternalError...: ``."""
    return ServiceError(INVALID_PARAMETER_PREFIX + detail, param=param)


def download_failed() -> ServiceError:
    """The recorded 400 for a media URL the service could not fetch."""
    return ServiceError(DOWNLOAD_FAILED_MESSAGE)


def unauthorized() -> ServiceError:
    """The recorded 401 (compat-error-401.json) for a missing or bad key."""
    return ServiceError(UNAUTHORIZED_MESSAGE, status=401, code="invalid_api_key")


def model_not_found(model: str) -> ServiceError:
    """The 404 for a model id the service does not know."""
    return ServiceError(
        f"The model `{model}` does not exist or you do not have access to it.",
        status=404,
        code="model_not_found",
    )


def rate_limited() -> ServiceError:
    """The 429 ``Throttling.RateQuota`` body."""
    return ServiceError(
        RATE_LIMIT_MESSAGE, status=429, code="Throttling.RateQuota", type="limit_requests"
    )


def internal_error() -> ServiceError:
    """A 500 ``internal_error`` body."""
    return ServiceError(
        INTERNAL_ERROR_MESSAGE, status=500, code="internal_error", type="internal_error"
    )
