"""Reference values (optima, best-known values) from tables: one beside the instance file, then a plugin's own.

A problem plugin ships a CSV table of reference values, one row per instance, and a user may put a table of the
same form beside their files. A row is found by the instance's name, but a name is not an instance: a copy of
berlin52 with one city moved, or G1 saved as ``G2.txt``, would get another instance's value and report a gap below
zero. So a row applies only where its ``n`` (where the table has that column) is the instance's size and, where the
row has a *fingerprint* (a number cheap to compute from the file's contents that another instance is unlikely to
share: the length of the identity tour, the cut between odd and even nodes, the cost of the identity
assignment), the instance's own fingerprint equals it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from hopsolve.errors import ParseError
from hopsolve.textio import parse_number, read_text

FINGERPRINT_TOLERANCE = 1e-9
"""Relative tolerance of a fingerprint match: a sum of many floats rounds its own way in another edge order."""


def table_reference(path: str | Path, names: Iterable[str], size: int, packaged: tuple[str, str],
                    value_columns: Sequence[str], fingerprint: tuple[str, Callable[[], float]] | None = None,
                    beside: str = "optima.csv", applies: Callable[[dict[str, str]], bool] | None = None
                    ) -> float | None:
    """The reference value of the instance read from ``path``: from the table named ``beside`` in the file's
    folder, else from the plugin's table ``packaged`` (``(label, text)``, the label naming it in errors); ``None``
    where neither has a row that applies.

    A row applies when its ``name`` is one of ``names``, its ``n`` (if the column exists and is filled) is
    ``size``, ``applies(row)`` (if given) is true, and, where ``fingerprint = (column, compute)`` and the row fills
    that column, ``compute()`` (called at most once) is within :data:`FINGERPRINT_TOLERANCE` of it. The value is
    the first filled column of ``value_columns``. A table without a ``name`` column, or with a malformed number in
    a row it reads, is a :class:`~hopsolve.errors.ParseError` naming the table and line."""
    path = Path(path)
    wanted = list(names)
    tables: list[tuple[str | Path, str]] = []
    if (path.parent / beside).exists():
        tables.append((path.parent / beside, read_text(path.parent / beside)))
    tables.append(packaged)
    computed: list[float] = []

    def own_fingerprint() -> float:
        if not computed and fingerprint is not None:
            computed.append(float(fingerprint[1]()))
        return computed[0]

    for source, text in tables:
        reader = csv.DictReader(text.splitlines())
        if "name" not in (reader.fieldnames or []):
            raise ParseError("a table of reference values needs a 'name' column", source, 1)
        for row in reader:
            if row["name"] not in wanted:
                continue
            line = reader.line_num
            if row.get("n") and parse_number(row["n"], source, line, "n", integer=True) != size:
                continue
            if applies is not None and not applies(row):
                continue
            if fingerprint is not None and row.get(fingerprint[0]):
                expected = parse_number(row[fingerprint[0]], source, line, fingerprint[0])
                if not math.isclose(own_fingerprint(), expected, rel_tol=FINGERPRINT_TOLERANCE,
                                    abs_tol=FINGERPRINT_TOLERANCE):
                    continue  # the same name and size, other contents: not this row's instance
            value = next((row[column] for column in value_columns if row.get(column)), None)
            if value is None:
                continue
            return parse_number(value, source, line, value_columns[0])
    return None
