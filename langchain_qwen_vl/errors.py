"""The exceptions users catch.

One hierarchy with a common base, :class:`QwenVLError`. Every class also subclasses the
matching standard error of ``langchain_core.exceptions`` so that agent middleware (for
example ``ModelRetryMiddleware``) can read ``is_retryable`` without knowing this package.

- Bad input found *before* any network call: :class:`QwenVLInputError` (a ``ValueError``)
  and its subclasses. Nothing was sent, nothing was billed.
- The service answered with an error: :class:`QwenVLAPIStatusError` subclasses, carrying
  the HTTP status, ``code``, ``type``, ``param``, request id and the server's message.
- The service could not be reached or did not answer in time: :class:`QwenVLConnectionError`,
  :class:`QwenVLTimeoutError`.
- The service answered 200 but the body is unusable (not JSON, no ``choices``):
  :class:`QwenVLResponseError`. Never retried: the call was processed and may be billed.
- A stream broke or ended without ``data: [DONE]``: :class:`QwenVLStreamError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelRefusalError,
    ModelTimeoutError,
)

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

__all__ = [
    "QwenVLAPIStatusError",
    "QwenVLAuthenticationError",
    "QwenVLBadRequestError",
    "QwenVLConnectionError",
    "QwenVLContentModerationError",
    "QwenVLContextOverflowError",
    "QwenVLError",
    "QwenVLImageError",
    "QwenVLInputError",
    "QwenVLNotFoundError",
    "QwenVLPermissionDeniedError",
    "QwenVLRateLimitError",
    "QwenVLResponseError",
    "QwenVLServerError",
    "QwenVLStreamError",
    "QwenVLTimeoutError",
    "QwenVLUnsupportedFeatureError",
    "error_from_response",
]


class QwenVLError(ModelError):
    """Base class of every error this package raises on purpose."""


# --- bad input, raised before any network call -------------------------------------------


class QwenVLInputError(QwenVLError, ModelInvalidRequestError, ValueError):
    """A request this package refuses to send; the message names the field and the fix."""


class QwenVLImageError(QwenVLInputError):
    """An image or video input that the service would reject (or that cannot be read)."""


class QwenVLUnsupportedFeatureError(QwenVLInputError):
    """A feature the chosen wire format or mode cannot express (e.g. tools on images_prompt)."""


# --- the service answered with an error ---------------------------------------------------


class QwenVLAPIStatusError(QwenVLError):
    raw_message: BaseMessage | None

    """The service answered with an HTTP error (or an error event inside a stream).

    Attributes:
        status_code: HTTP status (for an error inside a 200 stream, the status it announced).
        code: the service's error code, e.g. ``invalid_api_key`` or ``Throttling.RateQuota``.
        type: the error ``type`` field, e.g. ``invalid_request_error``.
        param: the offending parameter when the service names one.
        request_id: the service's request id (body ``id``/``request_id`` or a header).
        server_message: the message exactly as the service sent it.
        body: the decoded error body (a dict) or the raw text.
        retry_after: seconds from a ``Retry-After`` header, if one was sent.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        server_message: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        # Call Exception.__init__ directly: ModelRefusalError has its own signature.
        Exception.__init__(self, message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.type = type
        self.param = param
        self.request_id = request_id
        self.server_message = server_message
        self.body = body
        self.retry_after = retry_after
        self.raw_message = None  # ModelRefusalError attribute; no message was produced


class QwenVLBadRequestError(QwenVLAPIStatusError, ModelInvalidRequestError):
    """HTTP 400: a parameter, an image or the input was rejected. Not retried."""


class QwenVLContextOverflowError(QwenVLBadRequestError, ContextOverflowError):
    """HTTP 400 because the input is longer than the model's context window."""


class QwenVLContentModerationError(QwenVLBadRequestError, ModelRefusalError):
    """HTTP 400 ``data_inspection_failed``: content moderation refused the input or output."""


class QwenVLAuthenticationError(QwenVLAPIStatusError, ModelAuthenticationError):
    """HTTP 401: a bad key, or a key used outside its region."""


class QwenVLPermissionDeniedError(QwenVLAPIStatusError, ModelPermissionDeniedError):
    """HTTP 403: the key has no access to this model."""


class QwenVLNotFoundError(QwenVLAPIStatusError, ModelNotFoundError):
    """HTTP 404: unknown model or endpoint."""


class QwenVLRateLimitError(QwenVLAPIStatusError, ModelRateLimitError):
    """HTTP 429 (any ``Throttling*`` code). Retried with backoff."""


class QwenVLServerError(QwenVLAPIStatusError, ModelAPIError):
    """HTTP 5xx (or a server-side error code inside a 200 stream). Retried with backoff."""


class QwenVLResponseError(QwenVLAPIStatusError, ModelAPIError):
    """HTTP 200 whose body is unusable: not JSON, not an object, or no ``choices``.

    Not retried (``is_retryable`` is False): a 200 means the service processed the call, and
    retrying it could bill it twice. ``status_code`` is 200 and ``request_id`` is set when the
    body or the ``x-request-id`` header carried one.
    """

    is_retryable = False


# --- transport -------------------------------------------------------------------------


class QwenVLConnectionError(QwenVLError, ModelConnectionError):
    """The service could not be reached (DNS, refused connection, reset)."""


class QwenVLTimeoutError(QwenVLError, ModelTimeoutError):
    """The service did not answer within ``timeout``."""


class QwenVLStreamError(QwenVLError, ModelAPIError):
    """A stream broke mid-way or ended without ``data: [DONE]``; nothing partial is returned.

    ``request_id`` is the response's ``x-request-id`` header when the stream had started.
    """

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


# --- mapping an HTTP error body to a class (pure) ----------------------------------------

_CONTEXT_OVERFLOW_MARKERS = (
    "input length",
    "context length",
    "maximum context",
    "too long",
    "exceeds the maximum",
)


_SERVER_SIDE_CODES = frozenset(
    {"internal_error", "internalerror", "internalerror.algo", "service_unavailable", "timeout"}
)


def _parse_body(body: bytes | str | Mapping[str, Any] | None) -> tuple[dict[str, Any], Any]:
    if body is None:
        return {}, None
    if isinstance(body, Mapping):
        return dict(body), dict(body)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.lstrip("\ufeff")  # recorded native bodies start with a BOM
    try:
        decoded = json.loads(text)
    except ValueError:
        return {}, text
    return (decoded if isinstance(decoded, dict) else {}), decoded


def _class_for(status: int, code: str, message: str) -> type[QwenVLAPIStatusError]:
    lowered_code = code.lower()
    if status == 401:
        return QwenVLAuthenticationError
    if status == 403:
        return QwenVLPermissionDeniedError
    if status == 404:
        return QwenVLNotFoundError
    if status == 429 or lowered_code.startswith("throttling"):
        return QwenVLRateLimitError
    if status >= 500 or (status < 400 and lowered_code in _SERVER_SIDE_CODES):
        # An error inside a 200 stream keeps status 200; its code says whose fault it was.
        return QwenVLServerError
    if lowered_code == "data_inspection_failed" or "inappropriate content" in message.lower():
        return QwenVLContentModerationError
    if any(marker in message.lower() for marker in _CONTEXT_OVERFLOW_MARKERS):
        return QwenVLContextOverflowError
    return QwenVLBadRequestError


def _parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def _request_id(payload: Mapping[str, Any], headers: Mapping[str, str] | None) -> str | None:
    for key in ("request_id", "id"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    for key, value in (headers or {}).items():
        if key.lower() in ("x-request-id", "x-dashscope-request-id"):
            return value
    return None


_TITLE = re.compile(r"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)
_MAX_QUOTED = 300


def _summary(server_message: str | None, not_json: bool) -> str:
    """The server's message for our error text; a non-JSON page (a proxy's) is summarised."""
    message = (server_message or "").strip()
    if not message:
        return "no message in the response body"
    if not_json and message.startswith("<"):
        title = _TITLE.search(message)
        label = f" ({title.group(1)})" if title else ""
        return f"an HTML page{label}, not the service's JSON — likely a proxy or gateway"
    if len(message) > _MAX_QUOTED:
        return message[:_MAX_QUOTED] + f"… ({len(message)} characters)"
    return message


def error_from_response(
    status_code: int,
    body: bytes | str | Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
    *,
    base_url: str | None = None,
) -> QwenVLAPIStatusError:
    """Build the right :class:`QwenVLAPIStatusError` subclass from an HTTP error.

    Understands the OpenAI-compatible shape ``{"error": {message, type, param, code}, "id"}``
    and the native DashScope shape ``{"code", "message", "request_id"}``.

    Example:
        >>> err = error_from_response(401, b'{"error": {"code": "invalid_api_key",'
        ...     b' "message": "Incorrect API key provided. "}}')
        >>> type(err).__name__, err.code
        ('QwenVLAuthenticationError', 'invalid_api_key')
    """
    payload, decoded = _parse_body(body)
    inner = payload.get("error")
    fields: Mapping[str, Any] = inner if isinstance(inner, Mapping) else payload
    code = str(fields.get("code") or "") or None
    err_type = fields.get("type")
    param = fields.get("param")
    server_message = fields.get("message")
    if not isinstance(server_message, str):
        server_message = decoded if isinstance(decoded, str) and decoded else None
    request_id = _request_id(payload, headers)
    cls = _class_for(status_code, code or "", server_message or "")

    text = f"Qwen-VL API error {status_code}"
    if code:
        text += f" ({code})"
    text += f": {_summary(server_message, fields is payload and not payload)}"
    if cls is QwenVLAuthenticationError:
        text += (
            f" — check DASHSCOPE_API_KEY, and that the key's region matches base_url"
            f" ({base_url or 'unknown'}): a key works only in the region it was created in;"
            " set region= (singapore, beijing, virginia, hongkong) or base_url= to match."
        )
    if "non-streaming" in (server_message or "") and "enable_thinking" in (server_message or ""):
        # Some Qwen deployments accept thinking only on streamed calls (uncertain).
        text += (
            " — this deployment thinks only when streaming: call .stream()/.astream() or create "
            "the model with streaming=True (invoke then streams under the hood), or set "
            "enable_thinking=False."
        )
    if request_id:
        text += f" [request_id={request_id}]"
    return cls(
        text,
        status_code=status_code,
        code=code,
        type=err_type if isinstance(err_type, str) else None,
        param=param if isinstance(param, str) else None,
        request_id=request_id,
        server_message=server_message,
        body=decoded,
        retry_after=_parse_retry_after(headers),
    )
