"""Progress for long sweeps: a bar with counts and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO, Any


class Progress:
    """A sweep's progress, one update per finished task. Output is a courtesy: where the stream is gone (``bench
    ... 2>&1 | head``, a closed log pipe) it falls silent and the sweep goes on."""

    def __init__(self, total: int, done: int = 0, stream: IO[str] | None = None) -> None:
        self.total = total
        self.done = done
        self.started_at = done
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def _eta(self) -> str:
        ran = self.done - self.started_at
        if ran <= 0:
            return "?"
        seconds = (time.monotonic() - self.start) / ran * (self.total - self.done)
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"

    silent = False

    def update(self, record: dict[str, Any]) -> None:
        self.done += 1
        if self.silent:
            return
        try:
            self._write(record)
        except OSError:  # BrokenPipeError among them: nobody reads the progress any more
            self.silent = True

    def _write(self, record: dict[str, Any]) -> None:
        what = f"{record.get('instance')} {record.get('label')} seed {record.get('seed')}: {record.get('status')}"
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            bar = "#" * filled + "." * (width - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} ETA {self._eta()}  {what[:60]:<60}")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"{self.done}/{self.total} {what} (ETA {self._eta()})\n")
        self.stream.flush()
