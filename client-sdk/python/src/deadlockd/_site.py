"""Call sites: the application's frames of the current Python stack, for reports."""

from __future__ import annotations

import os
import sys
from types import FrameType

_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# frames of these are plumbing, not the application's code
_SKIP_PARTS = (
    _PKG_DIR,
    os.sep + "threading.py",
    os.sep + "contextlib.py",
    os.sep + "asyncio" + os.sep,
    os.sep + "sqlalchemy" + os.sep,
    os.sep + "concurrent" + os.sep + "futures" + os.sep,
)
MAX_STACK = 8192
MAX_FRAMES = 24


def _is_app(filename: str) -> bool:
    return not any(p in filename for p in _SKIP_PARTS)


def capture_site() -> str | None:
    """The caller's stack, innermost first, trimmed to the application's frames (Python traceback style)."""
    frame: FrameType | None = sys._getframe(1)
    lines: list[str] = []
    while frame is not None and len(lines) < MAX_FRAMES:
        code = frame.f_code
        if _is_app(code.co_filename):
            lines.append(f'File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}')
        frame = frame.f_back
    if not lines:
        return None
    text = "\n".join(lines)
    return text[:MAX_STACK]


def first_app_frame(stack: str | None) -> str:
    if not stack:
        return ""
    return f" ({stack.splitlines()[0]})"
