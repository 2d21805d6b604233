""".ci/serve installs only what serving needs; .ci/test and .ci/run add the dev and test tools.

The scripts run for real against a copy of the project whose ``.venv/bin/python`` records what it is asked
to do instead of installing (a real install takes minutes and the network).
"""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

from advisor.settings import PROJECT_ROOT


def project_copy(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(PROJECT_ROOT / ".ci", tmp_path / ".ci")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    log = tmp_path / "pip.log"
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return tmp_path, log


def setup(root: Path, *args: str) -> None:
    subprocess.run(["bash", str(root / ".ci" / "setup"), *args], check=True, timeout=60)


def test_serving_installs_without_the_dev_tools(tmp_path: Path) -> None:
    root, log = project_copy(tmp_path)
    setup(root, "serve")
    assert log.read_text().splitlines()[-1].endswith("-e ."), log.read_text()
    assert "[dev]" not in log.read_text()
    setup(root, "serve")  # stamped: nothing installed again
    assert log.read_text().count("-e .") == 1


def test_tests_install_the_dev_tools_and_serve_needs_nothing_more(tmp_path: Path) -> None:
    root, log = project_copy(tmp_path)
    setup(root)
    assert log.read_text().splitlines()[-1].endswith("-e .[dev]")
    setup(root, "serve")  # a dev install serves too
    assert "-e .\n" not in log.read_text()


def test_ci_serve_asks_for_the_serving_install() -> None:
    serve = (PROJECT_ROOT / ".ci" / "serve").read_text()
    assert "bash .ci/setup serve" in serve
