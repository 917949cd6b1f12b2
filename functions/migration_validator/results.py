"""ResultsTable: one item per execution, holding its single verdict and its check results.

The item's key is the execution name, so every write of one execution lands on one item.
The verdict is written once, under the condition that the item has none yet; a repeated
RecordResult (a Step Functions retry, the fallback branch after a later step failed, or the
stopped-execution rule) reads back the verdict already stored instead of writing a second one.
"""

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from .aws import client, env, is_transient
from .observability import logger

# DynamoDB rejects items over 400 KB. The engine caps each check's excerpts, and this bound on the
# whole checks list keeps the item under the limit with room for the other attributes.
MAX_CHECKS_BYTES = 300_000
MAX_ERROR_CAUSE_CHARS = 2_000
# A check message is cut to this many characters when output excerpts alone do not make the list fit.
MAX_FITTED_MESSAGE_CHARS = 500

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class RecordedVerdict:
    """The verdict stored for an execution; ``written`` is False when it was already there."""

    execution_name: str
    verdict: str
    reason: str
    instance_id: str | None
    written: bool

    def to_state(self) -> dict:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "instance_id": self.instance_id,
            "written": self.written,
        }


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _to_dynamodb(value):
    """Convert floats to Decimal, as the DynamoDB serializer requires, on every write path."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamodb(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamodb(item) for item in value]
    return value


def _from_dynamodb(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamodb(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_dynamodb(item) for item in value]
    return value


def _update(
    execution_name: str,
    attributes: dict,
    *,
    condition: str | None = None,
    condition_names: dict[str, str] | None = None,
    remove: tuple[str, ...] = (),
) -> dict:
    """SET the non-None attributes on the item and return it as stored.

    Attribute names go through placeholders, so reserved words such as ``status`` are safe.
    """
    attributes = {key: value for key, value in attributes.items() if value is not None}
    names = {f"#a{i}": key for i, key in enumerate(attributes)}
    values = {f":v{i}": _serializer.serialize(_to_dynamodb(value)) for i, value in enumerate(attributes.values())}
    expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes)))
    if remove:
        names.update({f"#r{i}": key for i, key in enumerate(remove)})
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
    request = {
        "TableName": env("RESULTS_TABLE"),
        "Key": {"execution_name": {"S": execution_name}},
        "UpdateExpression": expression,
        "ExpressionAttributeNames": {**names, **(condition_names or {})},
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
    }
    if condition:
        request["ConditionExpression"] = condition
    response = client("dynamodb").update_item(**request)
    return _deserialize(response["Attributes"])


_NO_VERDICT = {"condition": "attribute_not_exists(#verdict)", "condition_names": {"#verdict": "verdict"}}


def _deserialize(item: dict) -> dict:
    return _from_dynamodb({key: _deserializer.deserialize(value) for key, value in item.items()})


def read(execution_name: str) -> dict | None:
    """Return the item of an execution (strongly consistent), or None."""
    response = client("dynamodb").get_item(
        TableName=env("RESULTS_TABLE"),
        Key={"execution_name": {"S": execution_name}},
        ConsistentRead=True,
    )
    item = response.get("Item")
    return _deserialize(item) if item else None


def _is_condition_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def store_checks(execution_name: str, attributes: dict, checks: list[dict]) -> None:
    """Store a suite run's check results before its verdict is recorded.

    A retried RunSmokeTests overwrites the checks of the earlier attempt; once a verdict is
    recorded, the checks behind it are never replaced.
    """
    checks = _fit_checks(checks)
    try:
        _update(execution_name, {**attributes, "checks": checks}, **_NO_VERDICT)
    except ClientError as error:
        if not _is_condition_failure(error):
            raise
        logger.warning("check results not stored: the execution already has a verdict")


def _fit_checks(checks: list[dict]) -> list[dict]:
    """Make the checks list fit MAX_CHECKS_BYTES of JSON.

    First drop output excerpts, last check first; then cut messages to MAX_FITTED_MESSAGE_CHARS;
    then drop whole checks from the end. ``checks_total`` in the item still counts them all.
    JSON escapes every non-ASCII character to six bytes, so its length is at least the UTF-8 size.
    """
    fitted = [dict(check) for check in checks]
    sizes = [_json_size(check) for check in fitted]
    index = len(fitted) - 1
    while _list_size(sizes) > MAX_CHECKS_BYTES and index >= 0:
        fitted[index].update(stdout="", stderr="", capped=True)
        sizes[index] = _json_size(fitted[index])
        index -= 1
    if _list_size(sizes) > MAX_CHECKS_BYTES:
        for check in fitted:
            check["message"] = str(check.get("message", ""))[:MAX_FITTED_MESSAGE_CHARS]
        sizes = [_json_size(check) for check in fitted]
    kept = len(fitted)
    while kept and _list_size(sizes[:kept]) > MAX_CHECKS_BYTES:
        kept -= 1
    if kept < len(fitted):
        logger.warning("check results cut to fit the DynamoDB item limit", extra={"checks_stored": kept, "checks_total": len(fitted)})
    return fitted[:kept]


def _list_size(sizes: list[int]) -> int:
    """Length of the JSON list whose elements have these lengths: brackets and ", " separators."""
    return 2 + sum(sizes) + 2 * max(0, len(sizes) - 1)


def _json_size(value: object) -> int:
    return len(json.dumps(value, default=str))


def record_verdict(execution_name: str, verdict: str, reason: str, attributes: dict) -> RecordedVerdict:
    """Write the execution's verdict unless it has one; return the verdict stored."""
    fields = {**attributes, "verdict": verdict, "reason": reason, "recorded_at": now_iso()}
    if "error_cause" in fields and fields["error_cause"]:
        fields["error_cause"] = str(fields["error_cause"])[:MAX_ERROR_CAUSE_CHARS]
    try:
        item = _update(execution_name, fields, **_NO_VERDICT)
        return RecordedVerdict(execution_name, item["verdict"], item["reason"], item.get("instance_id"), written=True)
    except ClientError as error:
        if not _is_condition_failure(error):
            raise
    item = read(execution_name) or {}
    logger.info(
        "verdict already recorded; keeping it",
        extra={"recorded_verdict": item.get("verdict"), "verdict_not_written": verdict},
    )
    return RecordedVerdict(execution_name, item["verdict"], item["reason"], item.get("instance_id"), written=False)


# A publisher claims the notification for this long before it publishes. A publisher that died
# after claiming blocks others only until the claim expires; one that died after publishing but
# before marking the item can cause the one duplicate this scheme allows.
NOTIFY_CLAIM_SECONDS = 30
# Marking is retried beyond the client's own retries, because an unmarked published verdict is
# published again once its claim expires: about 7.5 s of waits between five attempts.
MARK_ATTEMPTS = 5
MARK_FIRST_WAIT_SECONDS = 0.5


@dataclass(frozen=True)
class NotificationClaim:
    """The right to publish one execution's verdict; ``token`` identifies this publisher."""

    item: dict
    token: str


def claim_notification(execution_name: str) -> NotificationClaim | None:
    """Claim the right to publish this execution's verdict.

    Return the claim when the caller must publish now, or None when the verdict was already
    published. Waits while another publisher has a live claim. The claim carries a token,
    so a claim request repeated after a lost response finds its own claim instead of waiting.
    """
    token = uuid.uuid4().hex
    deadline = time.monotonic() + NOTIFY_CLAIM_SECONDS + 5
    while True:
        now = int(time.time())
        try:
            return NotificationClaim(_claim(execution_name, now, token), token)
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
        item = read(execution_name)
        if item is None or "verdict" not in item:
            raise LookupError(f"execution {execution_name} has no recorded verdict to publish")
        if item.get("notified_at"):
            return None
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_name}: timed out waiting for another publisher's notification claim to expire")
        time.sleep(1)


def _claim(execution_name: str, now: int, token: str) -> dict:
    response = client("dynamodb").update_item(
        TableName=env("RESULTS_TABLE"),
        Key={"execution_name": {"S": execution_name}},
        UpdateExpression="SET #claim = :until, #owner = :token",
        ConditionExpression=(
            "attribute_exists(#verdict) AND attribute_not_exists(#notified) "
            "AND (attribute_not_exists(#claim) OR #claim < :now OR #owner = :token)"
        ),
        ExpressionAttributeNames={
            "#verdict": "verdict",
            "#notified": "notified_at",
            "#claim": "notify_claimed_until",
            "#owner": "notify_claim_token",
        },
        ExpressionAttributeValues={
            ":until": {"N": str(now + NOTIFY_CLAIM_SECONDS)},
            ":now": {"N": str(now)},
            ":token": {"S": token},
        },
        ReturnValues="ALL_NEW",
    )
    return _deserialize(response["Attributes"])


def mark_notified(execution_name: str, message_id: str) -> None:
    """Mark the verdict as published; retried on transient errors, since the write is idempotent."""
    wait = MARK_FIRST_WAIT_SECONDS
    for attempt in range(1, MARK_ATTEMPTS + 1):
        try:
            _update(
                execution_name,
                {"notified_at": now_iso(), "notification_message_id": message_id},
                remove=("notify_claimed_until", "notify_claim_token"),
            )
            return
        except ClientError as error:
            if attempt == MARK_ATTEMPTS or not is_transient(error):
                # NOTE: the verdict is published but unmarked, so it is published again once the claim expires.
                logger.error("published verdict not marked as notified", extra={"message_id": message_id, "attempts": attempt})
                raise
            logger.warning("marking the published verdict failed; retrying", extra={"message_id": message_id, "attempt": attempt})
        time.sleep(wait)
        wait *= 2


def release_claim(execution_name: str, token: str) -> None:
    """Give this publisher's claim back after a failed publish, so a retry can publish at once."""
    try:
        client("dynamodb").update_item(
            TableName=env("RESULTS_TABLE"),
            Key={"execution_name": {"S": execution_name}},
            UpdateExpression="REMOVE #claim, #owner",
            ConditionExpression="#owner = :token",
            ExpressionAttributeNames={"#claim": "notify_claimed_until", "#owner": "notify_claim_token"},
            ExpressionAttributeValues={":token": {"S": token}},
        )
    except ClientError as error:
        if not _is_condition_failure(error):
            raise
