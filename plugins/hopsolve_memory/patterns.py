"""Pattern sets: text grids (``#`` on, ``.`` off, one picture per block, blank lines between) and ``.npy``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hopsolve import ParseError, read_text

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
        bad = set(line) - {ON, OFF}
        if bad:
            raise ParseError(f"character {sorted(bad)[0]!r} is not '#' or '.'", path, number)
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
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ParseError(f"cannot read .npy: {exc}", path) from None
    array = np.atleast_2d(array)
    if array.ndim != 2 or array.size == 0:
        raise ParseError(f"expected a P × N array, got shape {array.shape}", path, None)
    values = set(np.unique(array).tolist())
    if values <= {0, 1} and values != {1}:
        array = 2 * array - 1
    elif not values <= {-1, 1}:
        raise ParseError("patterns must hold ±1 or 0/1 values", path, None)
    return array.astype(np.int8)


def read_patterns(path: str | Path) -> PatternSet:
    """Patterns from text grids or a ``.npy`` array (P × N, ±1 or 0/1)."""
    path = Path(path)
    if path.suffix == ".npy":
        return PatternSet(_npy(path))
    pictures, shape = _grids(path)
    return PatternSet(pictures, shape)


def read_cues(path: str | Path, size: int) -> np.ndarray:
    """One or more cues (same formats) for a network of ``size`` units."""
    cues = read_patterns(path).patterns
    if cues.shape[1] != size:
        raise ParseError(f"a cue has {cues.shape[1]} units, the stored patterns have {size}", path, None)
    return cues
