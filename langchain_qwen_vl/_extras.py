"""How to install an optional extra: one sentence, used by every error and docstring that needs it.

The package is not on PyPI yet, so the index form alone fails today; the hint gives both.
"""

from __future__ import annotations

__all__ = ["install_hint"]


def install_hint(extras: str) -> str:
    """The install command for ``extras`` (e.g. ``"pdf"`` or ``"pdf,progress"``).

    Example:
        >>> install_hint("video")
        'pip install "langchain-qwen-vl[video]" (from a checkout until it is on PyPI: pip install "/path/to/langchain-qwen-vl[video]")'
    """  # noqa: E501
    return (
        f'pip install "langchain-qwen-vl[{extras}]" (from a checkout until it is on PyPI: '
        f'pip install "/path/to/langchain-qwen-vl[{extras}]")'
    )
