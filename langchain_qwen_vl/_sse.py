"""Server-sent events, line by line: a fast path for plain ``data:`` events, httpx-sse otherwise.

Qwen's OpenAI-compatible streams are single ``data: {...}`` lines separated by blank lines. Those
are parsed here without the general decoder. The first line that is anything else (``event:``,
``id:``, ``retry:``, a comment, or a second ``data:`` line in one event) switches this stream to
httpx-sse's :class:`SSEDecoder` for good, carrying over what was pending, so every valid SSE body
decodes exactly as the general decoder would.
"""

from __future__ import annotations

from httpx_sse._decoders import SSEDecoder

__all__ = ["SSELineParser"]

_MESSAGE = "message"


class SSELineParser:
    """Feed lines (without their line ending); get ``(event, data)`` when an event completes.

    Example:
        >>> parser = SSELineParser()
        >>> parser.feed('data: {"a": 1}'), parser.feed("")
        (None, ('message', '{"a": 1}'))
        >>> parser.feed("event: error"), parser.feed("data: x"), parser.feed("")
        (None, None, ('error', 'x'))
    """

    __slots__ = ("_decoder", "_first", "_pending")

    def __init__(self) -> None:
        self._pending: str | None = None
        self._decoder: SSEDecoder | None = None
        self._first = True

    def feed(self, line: str) -> tuple[str, str] | None:
        """One line in; the event it completes (if any) out."""
        if self._first:
            self._first = False
            line = line.lstrip("\ufeff")
        if self._decoder is None:
            if not line:
                data, self._pending = self._pending, None
                return None if data is None else (_MESSAGE, data)
            if self._pending is None and line.startswith("data:"):
                self._pending = line[6:] if line.startswith("data: ") else line[5:]
                return None
            self._decoder = SSEDecoder()
            if self._pending is not None:
                # "data: " + value: the decoder strips exactly the one space we add back.
                self._decoder.decode("data: " + self._pending)
                self._pending = None
        event = self._decoder.decode(line.rstrip("\r\n"))
        return None if event is None else (event.event, event.data)

    def finish(self) -> tuple[str, str] | None:
        """End of body: a last event without its closing blank line still completes."""
        return self.feed("")
