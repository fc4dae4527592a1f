"""Portal fixtures; the builders they use live in testkit/portal.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.portal import Portal, make_portal


@pytest.fixture
def portal(tmp_path: Path) -> Portal:
    return make_portal(tmp_path)
