"""Results as JSON lines: appended and flushed as each task finishes, read back to resume a sweep."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hopsolve.errors import UserError
from hopsolve.textio import check_input_file


class ResultStore:
    """An append-only JSONL file. Each record is one ``write`` of a whole line, flushed and fsynced, so a kill
    leaves at most one torn line, which :meth:`finished` drops (and truncates) on the next run."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.torn_bytes = 0
        """Bytes of a torn last line that :meth:`finished` removed (0 if none): the CLI says so."""

    def finished(self) -> dict[str, dict[str, Any]]:
        """Records already written, by task key (a torn last line is removed)."""
        if not self.path.exists():
            return {}
        if not self.path.is_file():  # a device (/dev/zero never ends) or a pipe: it is read whole, to resume
            raise UserError("--out must be a regular file (it is read back to resume a sweep)", path=self.path)
        check_input_file(self.path)
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            cut = raw.rfind(b"\n") + 1
            self.torn_bytes = len(raw) - cut
            with self.path.open("r+b") as handle:
                handle.truncate(cut)
            raw = raw[:cut]
        records = {}
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError("not a hopsolve results file (not UTF-8 text)", path=self.path) from None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise UserError("not a hopsolve results line", path=self.path, line=number) from None
            if not isinstance(record, dict) or "task" not in record or "status" not in record:
                # another program's JSON lines: appended to, the file was then one that report refuses
                raise UserError("not a hopsolve result record (a results file of hopsolve bench, or a new "
                                "path, is needed)", path=self.path, line=number)
            records[record["task"]] = record
        return records

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, allow_nan=False) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
