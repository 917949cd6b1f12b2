"""boto3 clients with timeouts and retries that end well before a function's timeout.

Standard-mode retries back off on throttling (DynamoDB ProvisionedThroughputExceeded, SNS
Throttled) and on 5xx answers; three attempts with a 3 s connect and 10 s read timeout stay
under 40 s even in the worst case, inside the 60 s and longer function timeouts in template.yaml.
"""

import os
from functools import cache

import boto3
from botocore.config import Config

CLIENT_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
)


@cache
def client(service: str):
    """Return a cached client; it honours AWS_ENDPOINT_URL_<SERVICE> for the local stack."""
    return boto3.client(service, config=CLIENT_CONFIG)


def env(name: str) -> str:
    """Return a required environment variable set by template.yaml."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set; template.yaml sets it for this function")
    return value
