"""The README's commands are the ones CI runs and the ones a newcomer types."""

from __future__ import annotations

import re

from .conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)[:2]


def test_readme_opens_with_install_and_test_commands():
    main, tests = _readme_commands()
    assert main.startswith("pip install -e . && hopsolve solve instances/")
    assert (ROOT / main.split("hopsolve solve ")[1].split()[0]).exists()
    assert tests == "pip install -e '.[test]' && pytest -n 2"


def test_ci_runs_the_readme_test_command():
    _, tests = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines()
    assert "venv" in ci
