"""The provisioning code passes ansible-lint's production profile and Ansible's syntax check,
and the example inventory resolves every device's site and secrets from its vault."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.ansible.support import (
    ANSIBLE_DIR,
    EXAMPLE_INVENTORY,
    EXAMPLE_VAULT_PASSWORD,
    PLAYBOOKS,
    ansible_env,
    run,
)

pytestmark = pytest.mark.timeout(300)

HOSTNAME = re.compile(r"^(sig|led|portal)-[a-z0-9]+(-[a-z0-9]+)*-\d{2}$")


def test_ansible_lint_production_profile_is_clean(tmp_path: Path) -> None:
    result = run(
        ["ansible-lint", "--profile", "production", "--offline", "--nocolor", "-p"],
        cwd=ANSIBLE_DIR,
        env=ansible_env(tmp_path),
        timeout_s=240,
    )
    assert result.returncode == 0, result.explain()


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_passes_syntax_check(playbook: str, tmp_path: Path) -> None:
    result = run(
        [
            "ansible-playbook",
            "--syntax-check",
            "-i",
            str(EXAMPLE_INVENTORY),
            "--vault-password-file",
            str(EXAMPLE_VAULT_PASSWORD),
            playbook,
        ],
        cwd=ANSIBLE_DIR,
        env=ansible_env(tmp_path),
        timeout_s=120,
    )
    assert result.returncode == 0, result.explain()


def _example_inventory(tmp_path: Path) -> dict[str, object]:
    result = run(
        [
            "ansible-inventory",
            "-i",
            str(EXAMPLE_INVENTORY),
            "--vault-password-file",
            str(EXAMPLE_VAULT_PASSWORD),
            "--list",
        ],
        cwd=ANSIBLE_DIR,
        env=ansible_env(tmp_path),
        timeout_s=120,
    )
    assert result.returncode == 0, result.explain()
    inventory: dict[str, object] = json.loads(result.output[result.output.index("{") :])
    return inventory


def _hosts(inventory: dict[str, object], group: str) -> set[str]:
    node = inventory.get(group, {})
    assert isinstance(node, dict)
    hosts = set(node.get("hosts", []))
    for child in node.get("children", []):
        hosts |= _hosts(inventory, child)
    return hosts


def test_example_inventory_names_every_device_by_the_scheme_and_a_known_site(
    tmp_path: Path,
) -> None:
    inventory = _example_inventory(tmp_path)
    meta = inventory["_meta"]
    assert isinstance(meta, dict)
    hostvars = meta["hostvars"]
    devices = _hosts(inventory, "signage_players") | _hosts(inventory, "portal_nodes")
    assert len(devices) > 20
    for host in sorted(devices):
        assert HOSTNAME.match(host), f"{host} does not follow <kind>-<site>-<place>-<nn>"
        site = hostvars[host]["digital_spaces_site"]
        assert site in hostvars[host]["digital_spaces_sites"], f"{host}: unknown site {site}"
    for host in _hosts(inventory, "led_screens"):
        assert host.startswith("led-")
        assert hostvars[host]["signage_player_hdmi_mode"]["width_px"] > 0


def test_example_vault_holds_a_secret_for_every_device(tmp_path: Path) -> None:
    inventory = _example_inventory(tmp_path)
    meta = inventory["_meta"]
    assert isinstance(meta, dict)
    hostvars = meta["hostvars"]
    devices = _hosts(inventory, "signage_players") | _hosts(inventory, "portal_nodes")
    portals = _hosts(inventory, "portal_nodes")
    some_host = hostvars[sorted(devices)[0]]
    assert devices <= set(some_host["vault_device_mqtt_passwords"]), "MQTT passwords missing"
    assert portals <= set(some_host["vault_portal_fas_keys"]), "FAS keys missing"
    for key in set(some_host["vault_portal_fas_keys"].values()):
        assert len(key) >= 16
    vault = (ANSIBLE_DIR / "inventories/example/group_vars/all/vault.yml").read_text()
    assert vault.startswith("$ANSIBLE_VAULT;"), "vault.yml must stay encrypted"
