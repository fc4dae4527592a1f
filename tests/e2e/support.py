"""Steps the end-to-end tests share: signing in, reading a screen and its player."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from central_cms.seed import DEMO_PASSWORD
from digital_spaces.demo.stack import DemoStack


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Hello, {username}")).to_be_visible()


def save_frame(stack: DemoStack, device_id: str, path: Path) -> None:
    path.write_bytes(stack.display(device_id).screenshot())


def player(stack: DemoStack, device_id: str):
    return next(d.agent.app for d in stack.devices if d.device_id == device_id)


def alert_showing(app) -> bool:
    now_showing = app.now_showing()
    return now_showing is not None and now_showing.alert_id is not None
