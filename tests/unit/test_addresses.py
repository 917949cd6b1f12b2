"""The address guard's allow-list of target networks."""

from __future__ import annotations

import pytest

from migration_validator.checks.addresses import check_address
from migration_validator.errors import TargetRejected


@pytest.mark.parametrize("address", ["127.0.0.5", "127.200.1.9"])
def test_loopback_allowed_in_loopback_network(monkeypatch, address):
    monkeypatch.setenv("TARGET_NETWORKS", "127.0.0.0/8")

    assert str(check_address(address)) == address


@pytest.mark.parametrize("address", ["10.34.104.241", "192.168.1.10", "172.16.0.4"])
def test_private_outside_networks_rejected(monkeypatch, address):
    monkeypatch.setenv("TARGET_NETWORKS", "127.0.0.0/8")

    with pytest.raises(TargetRejected) as raised:
        check_address(address)

    assert "AllowedTargetNetworks" in str(raised.value)
    assert address in str(raised.value)


def test_several_networks(monkeypatch):
    monkeypatch.setenv("TARGET_NETWORKS", "10.1.0.0/16, 10.2.0.0/16")

    assert str(check_address("10.2.3.4")) == "10.2.3.4"
    with pytest.raises(TargetRejected):
        check_address("10.3.0.1")


def test_empty_networks_allow_private(monkeypatch):
    monkeypatch.setenv("TARGET_NETWORKS", "")

    assert str(check_address("10.34.104.241")) == "10.34.104.241"


def test_metadata_rejected_even_when_listed(monkeypatch):
    monkeypatch.setenv("TARGET_NETWORKS", "169.254.0.0/16")

    with pytest.raises(TargetRejected):
        check_address("169.254.169.254")
