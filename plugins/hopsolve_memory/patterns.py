"""Pattern sets: text grids (``#`` on, ``.`` off, one picture per block, blank lines between) and ``.npy``.

What a file may hold: UTF-8 or ASCII text with any line ends, comment lines starting with ``;``, surrounding
blanks on a row; every picture of the same rows × columns. A ``.npy`` array (:func:`hopsolve.read_npy`) is one
pattern (1-D) or P patterns (2-D) of ±1 or 0/1, as booleans, integers or floats; anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hopsolve import ParseError, read_npy, read_text

ON, OFF = "#", "."


@dataclass(frozen=True, eq=False)
class PatternSet:
    """P patterns of N = rows·cols units (±1), with the grid shape when they came as pictures."""

    patterns: np.ndarray
    shape: tuple[int, int] | None = None
    names: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return self.patterns.shape[0]

    @property
    def size(self) -> int:
        return self.patterns.shape[1]

    def picture(self, state: np.ndarray) -> list[str]:
        """A state drawn as text rows (one row when there is no grid shape)."""
        chars = np.where(np.asarray(state) > 0, ON, OFF)
        rows, cols = self.shape or (1, len(chars))
        return ["".join(chars[r * cols:(r + 1) * cols]) for r in range(rows)]


def _grids(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.strip()
        if line.startswith(";"):
            continue  # a comment
        if not line:
            if blocks[-1]:
                blocks.append([])
            continue
        bad = [c for c in line if c not in (ON, OFF)]
        if bad:
            raise ParseError(f"character {bad[0]!r} is not '#' or '.'", path, number)
        blocks[-1].append((number, line))
    blocks = [b for b in blocks if b]
    if not blocks:
        raise ParseError("no pictures: expected blocks of '#' and '.' separated by blank lines", path, None)
    shape = (len(blocks[0]), len(blocks[0][0][1]))
    pictures = []
    for block in blocks:
        for number, line in block:
            if len(line) != shape[1]:
                raise ParseError(f"row has {len(line)} cells, the first picture's rows have {shape[1]}", path, number)
        if len(block) != shape[0]:
            raise ParseError(f"picture has {len(block)} rows, the first picture has {shape[0]}", path, block[0][0])
        pictures.append([1 if c == ON else -1 for _, line in block for c in line])
    return np.array(pictures, dtype=np.int8), shape


def _npy(path: Path) -> np.ndarray:
    array = read_npy(path)
    if array.ndim not in (1, 2) or array.size == 0:
        raise ParseError(f"expected a P × N array, got shape {array.shape}", path, None)
    array = np.atleast_2d(array)
    values = set(np.unique(array).tolist())
    if values <= {0, 1} and values != {1}:
        array = 2 * array.astype(np.int8) - 1
    elif values <= {-1, 1}:
        pass
    elif values <= {-1, 0, 1}:  # both encodings in one array: which one did a 0 or a 1 mean?
        found = ", ".join(f"{v:g}" for v in sorted(values))
        raise ParseError(f"patterns mix the ±1 and 0/1 encodings (found {found}): use one of them", path, None)
    else:
        shown = sorted(values - {-1, 0, 1})[:3]
        raise ParseError(f"patterns must hold ±1 or 0/1 values, found {', '.join(f'{v:g}' for v in shown)}", path,
                         None)
    return array.astype(np.int8)


def read_patterns(path: str | Path) -> PatternSet:
    """Patterns from text grids or a ``.npy`` array (P × N, ±1 or 0/1)."""
    path = Path(path)
    if path.suffix == ".npy":
        return PatternSet(_npy(path))
    pictures, shape = _grids(path)
    return PatternSet(pictures, shape)


def read_cues(path: str | Path, size: int, shape: tuple[int, int] | None = None) -> np.ndarray:
    """One or more cues (same formats) for a network of ``size`` units; where both the cues and the stored
    patterns are pictures (``shape``), of the same rows × columns (a 5 × 5 cue is not a 1 × 25 one)."""
    read = read_patterns(path)
    cues = read.patterns
    if cues.shape[1] != size:
        raise ParseError(f"a cue has {cues.shape[1]} units, the stored patterns have {size}", path, None)
    if shape is not None and read.shape is not None and read.shape != shape:
        raise ParseError(f"a cue is a picture of {read.shape[0]} × {read.shape[1]} cells, the stored patterns are "
                         f"{shape[0]} × {shape[1]}", path, None)
    return cues
