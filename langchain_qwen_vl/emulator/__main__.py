"""``python -m langchain_qwen_vl.emulator``: serve the emulator on loopback until Ctrl-C.

Example::

    python -m langchain_qwen_vl.emulator --port 8765 --map https://example.com/cat.png=cat.png
    python -m langchain_qwen_vl.emulator --replies replies.jsonl   # scripted answers
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_qwen_vl.emulator._images import is_loopback_host
from langchain_qwen_vl.emulator._runner import EmulatorHandle


def _mapping(text: str) -> tuple[str, str]:
    url, sep, path = text.rpartition("=")
    if not sep or not url or not path:
        raise argparse.ArgumentTypeError(f"expected URL=PATH, got {text!r}")
    return url, path


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}")
    return int(width), int(height)


def load_replies(path: str | Path) -> list[Any]:
    """Scripted replies from a file: ``.json`` holds a list, ``.jsonl`` one reply per line.

    Each reply is a JSON string (the text answer), an object with ``content`` and/or
    ``tool_calls`` (OpenAI's shape), or ``null`` (the emulator's own answer). Blank lines in
    ``.jsonl`` are skipped.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".jsonl":
        replies = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    replies.append(json.loads(line))
                except ValueError as exc:
                    raise ValueError(f"{path}:{number}: not JSON ({exc})") from exc
        return replies
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(value, list):
        raise ValueError(f"{path}: expected a JSON list of replies, got {type(value).__name__}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m langchain_qwen_vl.emulator",
        description="Local emulator of the Qwen3-VL-Flash API (answers are labelled "
        "'[emulator]'; it is not the model). Serves on loopback only.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port; 0 = a free one")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay before every answer")
    parser.add_argument(
        "--map",
        type=_mapping,
        action="append",
        default=[],
        metavar="URL=PATH",
        help="serve a remote image URL from a local file (repeatable)",
    )
    parser.add_argument(
        "--remote-image-size",
        type=_size,
        default=(1024, 768),
        metavar="WxH",
        help="nominal size of remote images that are not fetched (default 1024x768)",
    )
    parser.add_argument(
        "--replies",
        metavar="FILE",
        help="scripted replies, consumed one per request: a .json list or .jsonl lines of "
        "strings / {content, tool_calls} objects; when they run out, requests get a 400 "
        "emulator_script_exhausted",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted; return the exit status."""
    args = build_parser().parse_args(argv)
    if not is_loopback_host(args.host):
        print(f"refusing to serve on {args.host!r}: the emulator is loopback-only", file=sys.stderr)
        return 2
    try:
        replies = None if args.replies is None else load_replies(args.replies)
        emulator = EmulatorHandle(
            args.port,
            url_map=dict(args.map),
            latency_ms=args.latency_ms,
            remote_image_size=args.remote_image_size,
            host=args.host,
            replies=replies,
        )
    except (OSError, ValueError, TypeError) as exc:
        print(f"cannot use --replies {args.replies}: {exc}", file=sys.stderr)
        return 2
    with emulator:
        print(emulator.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
