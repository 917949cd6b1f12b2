"""AWS clients for the command-line tool: the running local stack's, or a deployed stack's."""

from __future__ import annotations

from urllib.parse import urlparse

import boto3
from botocore.exceptions import NoRegionError

from .local.stack import LOCAL_AWS_ENVIRONMENT
from .local_command import read_local_state


class AwsTargetUnknown(Exception):
    """Neither a running local stack nor an AWS region to talk to."""


def local_client(service: str, endpoint_url: str):
    """Return a client for the local stack's moto server, with the local dummy credentials."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=LOCAL_AWS_ENVIRONMENT["AWS_REGION"],
        aws_access_key_id=LOCAL_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_AWS_ENVIRONMENT["AWS_SESSION_TOKEN"],
    )


def client_for(service: str, endpoint_url: str | None = None, *, use_local: bool = True):
    """Return a client for the running local stack, or for AWS with the caller's credentials.

    ``endpoint_url`` given explicitly wins; otherwise the local stack is used when one is
    running and ``use_local`` is True.
    """
    local = read_local_state() if use_local else None
    if endpoint_url is None and local:
        return local_client(service, local["endpoint_url"])
    if endpoint_url and urlparse(endpoint_url).hostname in ("127.0.0.1", "localhost"):
        # An endpoint on this machine is a local stack, which takes only the local credentials.
        return local_client(service, endpoint_url)
    try:
        return boto3.client(service, endpoint_url=endpoint_url)
    except NoRegionError as error:
        raise AwsTargetUnknown(
            "no AWS region configured and no local stack running: set AWS_DEFAULT_REGION for a deployed stack, "
            "or start one with `migration-validator local start`"
        ) from error
