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


def test_the_readme_s_recall_example_is_what_recall_prints(cli):
    """The README shows `recall`'s output on the shipped cross; the run prints the same lines (its seed aside)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"\$ hopsolve recall (\S+) (\S+)\n(.*?)\n\s*```", text, flags=re.S)
    assert block is not None
    patterns, cue, shown = block.group(1), block.group(2), block.group(3)
    run = cli("recall", ROOT / patterns, ROOT / cue, "--seed", "1")
    assert run.code == 0
    expected = [line.strip() for line in shown.splitlines()]
    printed = [line.strip() for line in run.out.strip().splitlines()]
    assert printed[:-1] == expected[:-1]
    assert printed[-1].split(", seed")[0] == expected[-1].split(", seed")[0]


def test_the_readme_s_conformance_kit_example_runs_on_the_partition_plugin(tmp_path, monkeypatch):
    """The README's check_problem lines, as written, on its own partition plugin and five.partition file (the
    candidates were a placeholder, `[...]`, that raised a TypeError when copied)."""
    import sys

    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\nfrom hopsolve.testing import check_backend, check_problem\n(.*?)\n```", text,
                      flags=re.S)
    assert block is not None
    lines = [line for line in block.group(1).splitlines() if not line.startswith("check_backend(")]  # (the
    # backend is the README's next section's: test_plugins runs the kit on it)
    five = re.search(r"printf '([^']*)' > five.partition", text).group(1)
    (tmp_path / "five.partition").write_text(five.encode().decode("unicode_escape"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "third_party" / "hopsolve-partition"))
    sys.modules.pop("hopsolve_partition", None)
    from hopsolve_partition import PartitionProblem

    exec("\n".join(["from hopsolve.testing import check_problem", *lines]),  # noqa: S102 - the README's own code
         {"PartitionProblem": PartitionProblem})


def test_the_readme_names_every_public_name():
    """The README's paragraph on the public API left out seven names of ``hopsolve.__all__`` (SampleSet,
    stoppable, check_matrix_input, cpsat_build_timeout and three errors)."""
    import hopsolve

    text = (ROOT / "README.md").read_text()
    paragraph = text[text.index("**The public API is"):text.index("The first-party plugins import nothing else")]
    assert [name for name in hopsolve.__all__ if f"`{name}`" not in paragraph] == []
