"""Verdict notifications on VerdictTopic: a short subject, a JSON body, filterable attributes."""

import json

from .aws import client, env
from .results import claim_notification, mark_notified, release_claim

# SNS subjects must be ASCII, without line breaks, at most 100 characters.
MAX_SUBJECT_CHARS = 100
# Failed checks listed in the message body; the full list is in ResultsTable.
MAX_LISTED_CHECKS = 20
# SNS rejects a message whose body, subject and attributes exceed 262,144 bytes; 4 KB is left for the subject and attributes.
MAX_MESSAGE_BYTES = 262_144 - 4_096
# A listed check's message is cut to this many characters when the body would be too large.
MAX_LISTED_MESSAGE_CHARS = 1_000


def build_subject(item: dict) -> str:
    target = item.get("instance_id") or item.get("source_server_id") or item["execution_name"]
    subject = f"{item['verdict']}: {target}"
    if item.get("suite"):
        subject += f" ({item['suite']})"
    if item.get("wave"):
        subject += f" wave {item['wave']}"
    subject = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in subject)
    return subject[:MAX_SUBJECT_CHARS]


def build_message(item: dict) -> dict:
    def listed(statuses: tuple[str, ...]) -> list[dict]:
        return [
            {"check_id": check["check_id"], "reason": check["reason"], "message": check["message"]}
            for check in item.get("checks", [])
            if check.get("status") in statuses
        ][:MAX_LISTED_CHECKS]

    keys = (
        "verdict", "reason", "instance_id", "source", "source_server_id", "job_id", "launch_type",
        "wave", "suite", "suite_hash", "execution_name", "execution_arn", "recorded_at",
        "checks_total", "checks_failed", "host_key_fingerprint", "host_key_trusted_on_first_use",
        "error", "error_cause",
    )
    message = {key: item[key] for key in keys if key in item}
    message["failed_checks"] = listed(("FAILED", "ERROR"))
    message["warnings"] = listed(("WARNING",))
    return message


def encode_message(message: dict) -> str:
    """Return the message as JSON within MAX_MESSAGE_BYTES, cutting check messages, then listing fewer checks."""
    body = json.dumps(message, default=str)
    if len(body.encode("utf-8")) <= MAX_MESSAGE_BYTES:
        return body
    message = {**message}
    for key in ("failed_checks", "warnings"):
        message[key] = [{**check, "message": str(check["message"])[:MAX_LISTED_MESSAGE_CHARS]} for check in message.get(key, [])]
    if "error_cause" in message:
        message["error_cause"] = str(message["error_cause"])[:MAX_LISTED_MESSAGE_CHARS]
    body = json.dumps(message, default=str)
    while len(body.encode("utf-8")) > MAX_MESSAGE_BYTES and (message["failed_checks"] or message["warnings"]):
        key = "warnings" if message["warnings"] else "failed_checks"
        message[key] = message[key][:-1]
        message["checks_not_listed"] = message.get("checks_not_listed", 0) + 1
        body = json.dumps(message, default=str)
    return body


def build_attributes(item: dict) -> dict:
    """Message attributes for subscription filter policies; SNS rejects empty values."""
    attributes = {}
    for key in ("verdict", "suite", "wave", "launch_type"):
        value = item.get(key)
        if value:
            attributes[key] = {"DataType": "String", "StringValue": str(value)}
    return attributes


def publish_verdict(execution_name: str) -> str | None:
    """Publish the execution's recorded verdict once; return the SNS message id, or None if already sent."""
    claim = claim_notification(execution_name)
    if claim is None:
        return None
    item = claim.item
    try:
        response = client("sns").publish(
            TopicArn=env("VERDICT_TOPIC_ARN"),
            Subject=build_subject(item),
            Message=encode_message(build_message(item)),
            MessageAttributes=build_attributes(item),
        )
    except Exception:
        release_claim(execution_name, claim.token)
        raise
    mark_notified(execution_name, response["MessageId"])
    return response["MessageId"]
