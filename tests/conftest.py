"""Shared fixtures: a fresh registry per test and a CLI runner that captures output and exit code."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hopsolve import build_registry
from hopsolve.cli import main

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ROOT / "instances"
DATA = Path(__file__).resolve().parent / "data"


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def registry():
    return build_registry()


@pytest.fixture
def cli(capsys) -> Callable[..., CliRun]:
    def run(*args: str | os.PathLike) -> CliRun:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run
