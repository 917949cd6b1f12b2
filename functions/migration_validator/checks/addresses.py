"""The address guard every check passes before it opens a connection."""

import ipaddress
import os

from migration_validator.errors import TargetRejected

# Addresses of the instance metadata service (IMDS), which a check must never reach.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_BROADCAST = ipaddress.ip_address("255.255.255.255")


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Return the networks in TARGET_NETWORKS (comma-separated CIDRs); empty allows every permitted range.

    The local stack sets 127.0.0.0/8 here, so an instance registered with any other address is
    never contacted from a developer's machine; on AWS it may confine checks to the VPC's ranges.
    """
    text = os.environ.get("TARGET_NETWORKS", "")
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


def check_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Return ``address`` parsed, or raise TargetRejected if checks may not connect to it.

    Only IP literals are accepted, so a name cannot resolve somewhere else later.
    Loopback and private ranges are allowed because instances have private addresses;
    link-local, metadata, multicast, unspecified, broadcast and reserved addresses are not.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise TargetRejected(str(address), "not an IP address; the target must be the instance's own IP address") from None

    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped

    if parsed in METADATA_ADDRESSES:
        raise TargetRejected(address, "this is the instance metadata service address")
    if parsed.is_link_local:
        raise TargetRejected(address, "link-local addresses (169.254.0.0/16, fe80::/10) are not instance addresses")
    if parsed.is_multicast:
        raise TargetRejected(address, "multicast address")
    if parsed.is_unspecified:
        raise TargetRejected(address, "unspecified address")
    if parsed == _BROADCAST:
        raise TargetRejected(address, "broadcast address")
    if parsed.is_reserved:
        raise TargetRejected(address, "reserved address range")
    networks = allowed_networks()
    if networks and not any(parsed in network for network in networks):
        allowed = ", ".join(str(network) for network in networks)
        raise TargetRejected(address, f"outside TARGET_NETWORKS ({allowed}); add its range to the AllowedTargetNetworks parameter")
    return parsed
