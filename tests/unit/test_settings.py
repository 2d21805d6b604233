"""Settings come from ADVISOR_* variables once, typed; defaults need nothing set."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.settings import Settings


def test_defaults_work_with_nothing_set() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.max_body_bytes == 65_536


def test_values_are_typed() -> None:
    settings = Settings.from_env({"ADVISOR_MAX_BATCH": "12", "ADVISOR_KEYS_DIR": "/tmp/k", "OTHER": "x"})
    assert settings.max_batch == 12
    assert settings.keys_dir == Path("/tmp/k")


def test_unknown_advisor_variables_are_an_error() -> None:
    with pytest.raises(ValueError, match="unknown setting ADVISOR_DATABSE_URL"):
        Settings.from_env({"ADVISOR_DATABSE_URL": "sqlite://"})


def test_helper_processes_fit_the_cores_a_server_process_has() -> None:
    from advisor.settings import helper_processes

    assert helper_processes(1) == (0, False)  # everything in the server's own process
    assert helper_processes(2) == (1, True)
    assert helper_processes(8) == (7, True)
