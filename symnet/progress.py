"""A progress bar for long work on a terminal (stderr); silent when output is piped or captured."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

__all__ = ["Progress"]

_BAR = 24


class Progress:
    """``with Progress("training", total=100) as bar: ... bar.advance()``.

    Draws ``label [#####.....] 40/100`` on the stream (default stderr) only when it
    is a terminal; with no ``total`` it shows a spinner and the elapsed time,
    redrawn by a background thread. The line is erased when the work ends.

    >>> import io
    >>> out = io.StringIO()
    >>> with Progress("work", total=3, stream=out) as bar:
    ...     bar.advance(3)
    >>> out.getvalue()          # not a terminal: nothing drawn
    ''
    >>> out = io.StringIO()
    >>> with Progress("work", total=2, stream=out, enabled=True, interval=0) as bar:
    ...     bar.advance()
    >>> "work [############............] 1/2" in out.getvalue()
    True
    """

    def __init__(self, label: str, total: int | None = None, *, stream: TextIO | None = None,
                 enabled: bool | None = None, interval: float = 0.1) -> None:
        self.label = label
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.interval = interval
        self.done = 0
        self._start = time.monotonic()
        self._last = -1.0
        self._width = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.enabled and self.total is None:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units of work done; redraw at most every ``interval`` seconds."""
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= self.interval or (self.total is not None and self.done >= self.total):
            self._last = now
            self._draw(self._line())

    def _line(self) -> str:
        elapsed = time.monotonic() - self._start
        if self.total:
            filled = min(_BAR, _BAR * self.done // self.total)
            return f"{self.label} [{'#' * filled}{'.' * (_BAR - filled)}] {self.done}/{self.total}"
        spinner = "|/-\\"[int(elapsed / max(self.interval, 0.05)) % 4]
        return f"{self.label} {spinner} {elapsed:.1f}s"

    def _draw(self, text: str) -> None:
        pad = " " * max(0, self._width - len(text))
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._width = len(text)

    def _spin(self) -> None:
        while not self._stop.wait(max(self.interval, 0.05)):
            self._draw(self._line())

    def close(self) -> None:
        """Stop drawing and erase the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
