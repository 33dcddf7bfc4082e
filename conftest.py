"""Doctests of the packages run in a temporary folder (their examples write files)."""

import pytest


@pytest.fixture(autouse=True)
def _doctest_in_tmp_dir(request, tmp_path, monkeypatch):
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(tmp_path)
