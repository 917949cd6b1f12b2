"""boto3 clients with timeouts and retries that end before a function's timeout.

Standard-mode retries back off on throttling (DynamoDB ProvisionedThroughputExceeded, SNS
Throttled) and on 5xx responses. Three attempts with a 2 s connect and 5 s read timeout, and
botocore's backoff of at most 1 s and then 2 s between them, take at most 24 s: less than the
30 s of the shortest function timeout in template.yaml (tests/security/test_network.py).
NOTE: the read timeout bounds each wait for data, so a response that keeps trickling in slowly
could take longer; AWS APIs answer in one piece.
"""

import functools
import os
from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from .errors import AwsServiceUnavailable
from .observability import logger

MAX_ATTEMPTS = 3
# botocore's standard mode waits rand(0, 1) * 2 ** (attempt - 1) s after a throttled attempt.
MAX_BACKOFF_SECONDS = sum(2**attempt for attempt in range(MAX_ATTEMPTS - 1))

CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    # total_max_attempts counts the first attempt; botocore's max_attempts would count retries only.
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
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


# Error codes that mean "try again later". botocore's standard retry mode retries most of them
# but not all (SNS returns Throttled with HTTP 429, which it does not retry).
THROTTLING_CODES = frozenset(
    {
        "Throttling", "ThrottlingException", "Throttled", "ThrottledException", "RequestThrottled",
        "RequestThrottledException", "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "RequestLimitExceeded", "TransactionInProgressException", "RequestTimeout", "RequestTimeoutException",
        "PriorRequestNotComplete", "EC2ThrottledException", "SlowDown",
    }
)


def is_transient(error: ClientError) -> bool:
    """Return True for a throttling error or an HTTP 5xx or 429 response."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return error.response.get("Error", {}).get("Code") in THROTTLING_CODES or status >= 500 or status == 429


def name_transient_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Re-raise transient AWS errors that escape ``handler`` as AwsServiceUnavailable.

    botocore names its exceptions after each service's error codes, so without this a throttled
    write would reach the state machine as one of many names and end in the fallback branch.
    """

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        except ClientError as error:
            if not is_transient(error):
                raise
            unavailable = AwsServiceUnavailable(error.operation_name, error.response["Error"].get("Code", "Unknown"))
            logger.warning("AWS call failed after retries", extra={"operation": unavailable.operation, "code": unavailable.code})
            raise unavailable from error
        except (BotocoreConnectionError, HTTPClientError) as error:
            unavailable = AwsServiceUnavailable("unknown", type(error).__name__)
            logger.warning("AWS connection failed after retries", extra={"code": unavailable.code, "error": str(error)})
            raise unavailable from error

    return wrapper
