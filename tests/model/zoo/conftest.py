"""Fixtures of the tests against the authors' golden fixtures (VIDEOLIGHTS_DATA/release/<model>/).

A test module names its folder in RELEASE and asks for `folder` and `fixtures`; `release_fixtures(name)`
gives any folder's files. Everything skips without the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from tests.model.zoo.release import load_fixtures, release_folder


@pytest.fixture(scope="session")
def release_dir(data_dir: Path) -> Path:
    """VIDEOLIGHTS_DATA/release (skip when missing)."""
    return release_folder(data_dir, "release")


@pytest.fixture(scope="session")
def release_fixtures(data_dir: Path) -> Callable[[str], dict[str, Any]]:
    """A factory: release_fixtures(name) -> load_fixtures of release/<name>, loaded once a session
    (skips when the folder is missing). Tests must not modify what it returns. It reads data_dir,
    not release_dir, so that a module may override release_dir with one that uses it."""
    loaded: dict[str, dict[str, Any]] = {}

    def get(name: str) -> dict[str, Any]:
        if name not in loaded:
            loaded[name] = load_fixtures(release_folder(release_folder(data_dir, "release"), name))
        return loaded[name]

    return get


@pytest.fixture(scope="module")
def folder(release_dir: Path, request: pytest.FixtureRequest) -> Path:
    """The module's release folder, release/<RELEASE> (skip when missing)."""
    return release_folder(release_dir, request.module.RELEASE)


@pytest.fixture(scope="module")
def fixtures(folder: Path, release_fixtures: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The module's golden files (see release.load_fixtures)."""
    return release_fixtures(folder.name)
