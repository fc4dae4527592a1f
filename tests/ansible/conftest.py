"""The converged estate, built once per session for every convergence test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ansible.estate import Estate, converged_estate


@pytest.fixture(scope="session")
def estate() -> Iterator[Estate]:
    with converged_estate() as built:
        yield built
