"""Installing third-party plugins in tests: as pip leaves them (a folder with a dist-info), or with pip itself."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path


def fake_install(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Lay out what ``pip install`` leaves behind: the modules and a dist-info with entry points."""
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[hopsolve]\n{lines}")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))


def pip_install(package: Path, target: Path) -> dict[str, str]:
    """Install ``package`` with pip into ``target`` (no dependencies) and return an environment that sees it."""
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(package)]
    subprocess.run(command, check=True, capture_output=True)
    return {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def assert_public_api_only(package: Path, shown_from: Path) -> None:
    """Every hopsolve name the modules under ``package`` import comes from ``hopsolve`` itself (its ``__all__``),
    as a third party's plugin must; failures name the file relative to ``shown_from``."""
    import hopsolve

    for path in sorted(package.rglob("*.py")):
        shown = path.relative_to(shown_from)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hopsolve."):
                raise AssertionError(f"{shown} imports from {node.module}")
            if isinstance(node, ast.ImportFrom) and node.module == "hopsolve":
                missing = [a.name for a in node.names if a.name not in hopsolve.__all__]
                assert not missing, f"{shown} imports {missing}, not in hopsolve.__all__"
