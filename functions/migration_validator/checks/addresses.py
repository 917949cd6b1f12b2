"""The address guard every check passes before it opens a connection."""

import ipaddress

from migration_validator.errors import TargetRejected

# Addresses of the instance metadata service (IMDS), which a check must never reach.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_BROADCAST = ipaddress.ip_address("255.255.255.255")


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
    return parsed
