"""The prepared parts the wire formats map from (built by :mod:`langchain_qwen_vl.media`)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_qwen_vl.media import ImagePart, PreparedMessage, TextPart, VideoPart

__all__ = ["ImagePart", "Part", "PreparedMessage", "TextPart", "VideoPart", "text_of"]

Part = TextPart | ImagePart | VideoPart


def text_of(parts: Sequence[Part]) -> str:
    """The text parts joined with newlines, media dropped.

    Example:
        >>> text_of([TextPart("a"), TextPart("b")])
        'a\\nb'
    """
    return "\n".join(part.text for part in parts if isinstance(part, TextPart))
