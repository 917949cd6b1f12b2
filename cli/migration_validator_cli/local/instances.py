"""Local instances: a real sshd and HTTP server on a loopback address, registered in moto's EC2.

The instance's PrivateIpAddress is the loopback address the servers listen on, so the smoke
tests reach the instance's own address as read from EC2, exactly as on AWS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from migration_validator.tags import HOST_KEY, SSH_USER, SUITE

from .targets import HttpTarget, SshdTarget, free_loopback_address, start_http_server, start_sshd

WEB_ROUTES = {
    "/": (200, "<html><body><h1>Orders</h1><p>migration demo</p></body></html>"),
    "/health": (200, "OK"),
}


@dataclass
class LocalInstance:
    """An EC2 instance in moto backed by real servers on its private address."""

    instance_id: str
    address: str
    sshd: SshdTarget
    http: HttpTarget | None = None

    def stop_http(self) -> None:
        """Stop the web server, as a service that failed to start after the migration."""
        if self.http:
            self.http.stop()
            self.http = None

    def stop(self) -> None:
        self.stop_http()
        self.sshd.stop()


def launch_instance(ec2, workdir: Path, public_key: str, *, http: bool = True, suite: str | None = None, tags: dict[str, str] | None = None, address: str | None = None) -> LocalInstance:
    """Start the servers, then register the instance in moto's EC2 with their address."""
    address = address or free_loopback_address()
    workdir.mkdir(parents=True, exist_ok=True)
    sshd = start_sshd(address, 22, public_key, workdir)
    web = start_http_server(address, 80, WEB_ROUTES) if http else None

    instance_tags = {HOST_KEY: sshd.host_key_fingerprint, SSH_USER: sshd.user, **(tags or {})}
    if suite:
        instance_tags[SUITE] = suite
    instance_id = register_instance(ec2, address, instance_tags)
    return LocalInstance(instance_id=instance_id, address=address, sshd=sshd, http=web)


def register_instance(ec2, address: str, tags: dict[str, str]) -> str:
    """Create a VPC and subnet around ``address`` in moto and run an instance with that private address."""
    network = ipaddress.ip_network(f"{address}/16", strict=False)
    subnet_network = ipaddress.ip_network(f"{address}/24", strict=False)
    vpc_id = ec2.create_vpc(CidrBlock=str(network))["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=str(subnet_network))["Subnet"]["SubnetId"]
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    reservation = ec2.run_instances(
        ImageId=image_id,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_id,
        PrivateIpAddress=address,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )
    return reservation["Instances"][0]["InstanceId"]
