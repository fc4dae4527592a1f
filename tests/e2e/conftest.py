"""Fixtures for the end-to-end tests: the demo stack as `digital-spaces demo` runs it, a
headless Chromium, and the folder screenshots go to."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from digital_spaces.demo.broker import free_port
from digital_spaces.demo.stack import DemoOptions, DemoStack, start_stack
from tests.browsers import launch_chromium


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[DemoStack]:
    options = DemoOptions(
        data_dir=tmp_path_factory.mktemp("demo"),
        fresh=True,
        cms_port=free_port(),
        portal_port=free_port(),
    )
    running = start_stack(options)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """DS_E2E_SCREENSHOTS=docs/screenshots/e2e refreshes the committed screenshots."""
    folder = os.environ.get("DS_E2E_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("e2e-shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        yield launched
        launched.close()
