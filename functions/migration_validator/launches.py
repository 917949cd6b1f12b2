"""Launch messages: read one SQS message body into a launch, and name its execution.

``read_message`` turns the body of one message on the launch queue into a
``Launch`` to validate, an ``Ignored`` message that needs no validation, or a
``Rejected`` message for the dead-letter queue. It raises no ``Exception``.

Wrappings. The body is decoded one layer at a time, and at most
``MAX_JSON_LAYERS`` texts are decoded per message, counting the body itself:

- the event itself: SNS with raw message delivery on, an EventBridge rule that
  targets the queue, or a script that calls SendMessage;
- an SNS notification envelope (raw message delivery off): a JSON object with
  ``"Type": "Notification"`` whose ``"Message"`` is the event as a JSON string.
  The field names ``Type`` and ``Message`` are matched in any letter case;
- a JSON string whose content is JSON again, as when a forwarder encodes an
  EventBridge event once more before publishing it to SNS.

SNS ``SubscriptionConfirmation`` and ``UnsubscribeConfirmation`` messages are
ignored, because a cross-account subscription puts them on the queue.

Accepted launch messages:

- MGN: the EventBridge event "MGN Source Server Launch Result" from ``aws.mgn``.
  ``detail.state`` is TEST_LAUNCH_SUCCEEDED, TEST_LAUNCH_FAILED,
  CUTOVER_LAUNCH_SUCCEEDED or CUTOVER_LAUNCH_FAILED, ``detail.job-id`` is the
  job, and ``resources[0]`` is the source server ARN. The event names no
  instance: the workflow finds it later through MGN DescribeJobs. A *_FAILED
  state is a launch whose verdict is LAUNCH_FAILED without tests. Other
  ``aws.mgn`` detail-types are ignored.
- EC2: the EventBridge event "EC2 Instance State-change Notification" from
  ``aws.ec2``. The state ``running`` is a launch whose time is the event's
  ``time``. The other EC2 instance states (pending, shutting-down, terminated,
  stopping, stopped) and other ``aws.ec2`` detail-types are ignored.
- CloudEndure: CloudEndure sends no events of its own, so scripts built on its
  API (version 5) publish the objects that API returns, in one of two shapes::

      {"replica": REPLICA, "job": JOB}    ("job" is optional; no other keys)
      REPLICA                             (the replica object alone)

  REPLICA is the object of ``GET /projects/{projectId}/replicas/{replicaId}``
  and JOB the object of ``GET /projects/{projectId}/jobs/{jobId}``. This module
  reads these fields and ignores the others:

  - ``replica.machineCloudId``: the EC2 instance id, required.
  - ``replica.machine``: the source machine id, a UUID, required.
  - ``replica.cloudEndureCreationDateTime``: the launch time (RFC 3339), optional.
  - ``job.id``: a UUID, required.
  - ``job.type``: TEST_LAUNCH and CUTOVER_LAUNCH are launches. The other
    CloudEndure job types are ignored.
  - ``job.status``: PENDING, STARTED, COMPLETED or FAILED, optional.
  - ``job.participatingMachines``: optional. When present, it must list the
    replica's machine.

  A job's status covers all of its machines, so a FAILED job does not mark
  this replica's launch as failed: the replica has an instance, and its tests
  decide the verdict.
- Plain: ``{"instance_id": "i-...", "suite": ..., "wave": ..., "request_id": ...}``
  for scripts and operators. Only ``instance_id`` is required, a JSON null counts
  as absent, and any other key is rejected.

Field formats: instance ids are ``i-`` and 8 or 17 lowercase hex digits, MGN
source server ids ``s-`` and 17, MGN job ids ``mgnjob-`` and 17. CloudEndure ids
are UUIDs, stored in lowercase. A suite name is 1-64 lowercase letters, digits
and hyphens, starting with a letter or digit. A wave is 1-128 printable
characters. A request id is 1-128 ASCII letters, digits and ``._:-``, starting
with a letter or digit. Times are ISO 8601 with seconds and a time zone.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Callable

MAX_BODY_BYTES = 256 * 1024  # the SQS and SNS message size limit, 262,144 bytes
MAX_JSON_LAYERS = 3  # JSON texts decoded per message, counting the body
MAX_ATTEMPT = 9999
NAME_HASH_LENGTH = 16  # hex digits of SHA-256 of the launch key in the execution name

MGN_LAUNCH_RESULT = "MGN Source Server Launch Result"
EC2_STATE_CHANGE = "EC2 Instance State-change Notification"
MGN_LAUNCH_STATES = (
    "TEST_LAUNCH_SUCCEEDED",
    "TEST_LAUNCH_FAILED",
    "CUTOVER_LAUNCH_SUCCEEDED",
    "CUTOVER_LAUNCH_FAILED",
)
EC2_IGNORED_STATES = ("pending", "shutting-down", "terminated", "stopping", "stopped")
CLOUDENDURE_LAUNCH_JOB_TYPES = ("TEST_LAUNCH", "CUTOVER_LAUNCH")
# Job types of the CloudEndure API version 5 that launch nothing to validate.
CLOUDENDURE_IGNORED_JOB_TYPES = (
    "CLEANUP",
    "RECOVERY_LAUNCH",
    "RESTORE_LAUNCH",
    "CONSOLIDATE_VMDKS",
    "FILE_RESTORE",
    "RECOVERY_PLAN_RECOVERY",
    "RECOVERY_PLAN_TEST",
    "RECOVERY_PLAN_CUTOVER",
    "RECOVERY_PLAN_CLEANUP",
)
CLOUDENDURE_JOB_STATUSES = ("PENDING", "STARTED", "COMPLETED", "FAILED")
PLAIN_KEYS = ("instance_id", "suite", "wave", "request_id")
CLOUDENDURE_WRAPPER_KEYS = ("replica", "job")
SNS_CONFIRMATION_TYPES = ("SubscriptionConfirmation", "UnsubscribeConfirmation")

_QUOTE_LIMIT = 80  # characters of a quoted value shown in a reason, after escaping
_KEYS_SHOWN = 8  # unknown keys named in one reason

_FIX_JSON = "Send the launch message as one JSON object, bare or in an SNS envelope."
_FIX_AWS = "Events from AWS carry this field in the documented form, so check which sender published this one."
_FIX_NEW_STATE = (
    "If AWS has added this state, this reader needs updating; otherwise check which sender published the event."
)
_FIX_CLOUDENDURE = "Correct the script that publishes CloudEndure replicas."
_FIX_PLAIN = "Correct the message and send it again."


class LaunchSource(str, Enum):
    MGN = "mgn"
    EC2 = "ec2"
    CLOUDENDURE = "cloudendure"
    PLAIN = "plain"


class LaunchType(str, Enum):
    TEST = "test"
    CUTOVER = "cutover"


class LaunchInvalid(ValueError):
    """A ``Launch`` was built with a field that breaks its format rules."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        super().__init__(f"Launch.{field} {problem}")
        self.field = field
        self.value = value


class AttemptInvalid(ValueError):
    """An attempt number is not an integer from 1 to ``MAX_ATTEMPT``."""

    def __init__(self, attempt: object) -> None:
        super().__init__(f"attempt {_quote(attempt)} must be an integer from 1 to {MAX_ATTEMPT}")
        self.attempt = attempt


@dataclass(frozen=True)
class _Format:
    """A string format: a full-match pattern and how a reason describes it."""

    pattern: re.Pattern
    description: str

    def problem(self, value: object) -> str | None:
        if not isinstance(value, str):
            return f"must be a string, got {_quote(value)}"
        if not self.pattern.fullmatch(value):
            return f"{_quote(value)} is not {self.description}"
        return None


INSTANCE_ID = _Format(
    re.compile(r"i-[0-9a-f]{8}(?:[0-9a-f]{9})?"),
    'an EC2 instance id ("i-" and 8 or 17 lowercase hex digits)',
)
# botocore's mgn service model (2020-02-26) allows letters and digits in both ids, although
# AWS's samples show lowercase hex only.
SOURCE_SERVER_ID = _Format(
    re.compile(r"s-[0-9a-zA-Z]{17}"),
    'an MGN source server id ("s-" and 17 letters or digits)',
)
MGN_JOB_ID = _Format(
    re.compile(r"mgnjob-[0-9a-zA-Z]{17}"),
    'an MGN job id ("mgnjob-" and 17 letters or digits)',
)
SOURCE_SERVER_ARN = _Format(
    re.compile(r"arn:aws(?:-[a-z]+)*:mgn:[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:source-server/(s-[0-9a-f]{17})"),
    "an MGN source server ARN (arn:aws:mgn:REGION:ACCOUNT:source-server/s-...)",
)
CLOUDENDURE_ID = _Format(
    re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    "a CloudEndure id (a UUID such as 6f1c2a9e-0b3d-4e5f-8a7b-1c2d3e4f5a6b)",
)
CLOUDENDURE_ID_LOWERCASE = _Format(
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    "a CloudEndure id in lowercase (a UUID)",
)
SUITE_NAME = _Format(
    re.compile(r"[a-z0-9][a-z0-9-]{0,63}"),
    "a suite name (1-64 lowercase letters, digits and hyphens, starting with a letter or digit)",
)
REQUEST_ID = _Format(
    re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"),
    "a request id (1-128 ASCII letters, digits and ._:- starting with a letter or digit)",
)
LAUNCH_STATE = _Format(re.compile(r"[A-Za-z][A-Za-z_-]{0,63}"), "a launch state word")
TIMESTAMP = _Format(
    re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"),
    "an ISO 8601 time with seconds and a time zone, such as 2026-10-12T14:05:00Z",
)


def _timestamp_problem(value: object) -> str | None:
    problem = TIMESTAMP.problem(value)
    if problem:
        return problem
    try:
        datetime.fromisoformat(value)
    except ValueError as error:
        return f"{_quote(value)} is not a valid time ({error})"
    return None


def _wave_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {_quote(value)}"
    if not value:
        return "is empty; leave it out or name the wave"
    if len(value) > 128:
        return f"{_quote(value)} is longer than 128 characters"
    if not value.isprintable():
        return f"{_quote(value)} contains a control or other non-printable character"
    return None


@dataclass(frozen=True)
class Launch:
    """One launched server to validate, as read from a launch message.

    ``__post_init__`` checks every field against the formats in the module
    docstring and raises ``LaunchInvalid``, so ``key()`` and ``execution_name``
    can rely on them. ``launch_state`` is the state in the source's own words:
    the MGN ``detail.state``, the EC2 state, or the CloudEndure job status.
    """

    source: LaunchSource
    launch_type: LaunchType | None
    instance_id: str | None  # None for MGN: the workflow finds it through DescribeJobs
    job_id: str | None
    source_server_id: str | None  # MGN "s-..." id or CloudEndure machine id
    suite: str | None = None  # plain messages only
    wave: str | None = None
    launch_failed: bool = False  # MGN *_LAUNCH_FAILED: the verdict is LAUNCH_FAILED, no tests
    launch_state: str | None = None
    launched_at: str | None = None  # ISO 8601 event time, where the message has one
    request_id: str | None = None  # plain messages: the sender's id for this request

    def __post_init__(self) -> None:
        if not isinstance(self.source, LaunchSource):
            raise LaunchInvalid("source", self.source, f"must be a LaunchSource, got {_quote(self.source)}")
        if self.launch_type is not None and not isinstance(self.launch_type, LaunchType):
            problem = f"must be a LaunchType or None, got {_quote(self.launch_type)}"
            raise LaunchInvalid("launch_type", self.launch_type, problem)
        if not isinstance(self.launch_failed, bool):
            problem = f"must be a bool, got {_quote(self.launch_failed)}"
            raise LaunchInvalid("launch_failed", self.launch_failed, problem)

        for field in _REQUIRED_FIELDS[self.source]:
            if getattr(self, field) is None:
                raise LaunchInvalid(field, None, f"is required for {self.source.value} launches")

        job_format, server_format = _ID_FORMATS.get(self.source, (None, None))
        checks: dict[str, Callable[[object], str | None]] = {
            "instance_id": INSTANCE_ID.problem,
            "suite": SUITE_NAME.problem,
            "wave": _wave_problem,
            "launch_state": LAUNCH_STATE.problem,
            "launched_at": _timestamp_problem,
            "request_id": REQUEST_ID.problem,
        }
        for field, check in (("job_id", job_format), ("source_server_id", server_format)):
            if check is None:
                checks[field] = _must_be_none
            else:
                checks[field] = check.problem
        for field, check in checks.items():
            value = getattr(self, field)
            if value is None:
                continue
            problem = check(value)
            if problem:
                raise LaunchInvalid(field, value, problem)

    def key(self) -> str:
        """Return the stable launch key: duplicate deliveries of one launch give the same key.

        mgn: job id and source server id; ec2: instance id and launch time;
        cloudendure: job id (or "-"), machine id and instance id; plain:
        instance id and request id (or "-"). Parts are joined with "|", which
        no validated field contains, so different launches never share a key.
        """
        if self.source is LaunchSource.MGN:
            parts = [self.job_id, self.source_server_id]
        elif self.source is LaunchSource.EC2:
            parts = [self.instance_id, self.launched_at]
        elif self.source is LaunchSource.CLOUDENDURE:
            parts = [self.job_id or "-", self.source_server_id, self.instance_id]
        else:
            # NOTE: without a request id, every plain message for one instance has
            # the same key, so a repeat counts as a duplicate. Senders that mean a
            # new validation set a new request_id or start another attempt.
            parts = [self.instance_id, self.request_id or "-"]
        return "|".join([self.source.value, *parts])

    def to_input(self) -> dict:
        """Return the state machine input: every field, with None as JSON null.

        Every key is present even when null, because a JSONPath in the state
        machine that names a missing key fails the execution.
        """
        return {
            "launch_key": self.key(),
            "source": self.source.value,
            "launch_type": self.launch_type.value if self.launch_type else None,
            "instance_id": self.instance_id,
            "job_id": self.job_id,
            "source_server_id": self.source_server_id,
            "suite": self.suite,
            "wave": self.wave,
            "launch_failed": self.launch_failed,
            "launch_state": self.launch_state,
            "launched_at": self.launched_at,
            "request_id": self.request_id,
        }


def _must_be_none(value: object) -> str | None:
    return f"must be None for this source, got {_quote(value)}"


# Fields that each source's key and workflow need.
_REQUIRED_FIELDS: dict[LaunchSource, tuple[str, ...]] = {
    LaunchSource.MGN: ("job_id", "source_server_id", "launch_type", "launch_state"),
    LaunchSource.EC2: ("instance_id", "launched_at"),
    LaunchSource.CLOUDENDURE: ("instance_id", "source_server_id"),
    LaunchSource.PLAIN: ("instance_id",),
}
# Formats of job_id and source_server_id per source; a source not listed has neither.
_ID_FORMATS: dict[LaunchSource, tuple[_Format | None, _Format | None]] = {
    LaunchSource.MGN: (MGN_JOB_ID, SOURCE_SERVER_ID),
    LaunchSource.CLOUDENDURE: (CLOUDENDURE_ID_LOWERCASE, CLOUDENDURE_ID_LOWERCASE),
}


@dataclass(frozen=True)
class Ignored:
    """A well-formed message that needs no validation, such as EC2 stopped or an MGN replication event."""

    reason: str
    source: LaunchSource | None


@dataclass(frozen=True)
class Rejected:
    """A malformed or unknown message, which goes to the dead-letter queue with this reason."""

    reason: str


class _MessageRejected(Exception):
    """Raised inside ``read_message`` to stop reading; it becomes a ``Rejected``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _JsonProblem(Exception):
    """Raised by the JSON decoder hooks; the caller adds which text it was."""


# Reading


def read_message(body: str) -> Launch | Ignored | Rejected:
    """Read one SQS message body into a launch, an ignored message or a rejection.

    No input makes it raise an ``Exception``. Every failure, including an
    unexpected error inside this module, becomes a ``Rejected`` whose reason
    names the bad value and what to do.
    """
    try:
        event = _unwrap(body)
        if isinstance(event, Ignored):
            return event
        return _read_event(event)
    except _MessageRejected as rejection:
        return Rejected(rejection.reason)
    except Exception as error:  # a bug here must not fail the batch, so report it as a rejection
        return Rejected(
            f"The message could not be read because of an internal error "
            f"({type(error).__name__}: {_escape(str(error))}). "
            "Report this message to the migration-validator maintainers."
        )


def _unwrap(body: object) -> dict | Ignored:
    """Decode the body layer by layer down to the event object."""
    if not isinstance(body, str):
        raise _MessageRejected(f"The message body must be text, got a {type(body).__name__}. {_FIX_JSON}")
    size = len(body.encode("utf-8", "surrogatepass"))  # surrogatepass: a lone surrogate cannot be encoded strictly
    if size > MAX_BODY_BYTES:
        raise _MessageRejected(
            f"The message body is {size} bytes, over the {MAX_BODY_BYTES}-byte SQS message size limit. "
            "Send only the launch event, one launch per message."
        )

    value: object = _decode_json(body, "The message body")
    layers = 1
    while True:
        if isinstance(value, str):
            text, label = value, f"The JSON string at layer {layers + 1} of the message"
        elif isinstance(value, dict) and _is_sns_envelope(value):
            text = _sns_message(value)
            if isinstance(text, Ignored):
                return text
            label = f"The SNS Message at layer {layers + 1} of the message"
        else:
            break
        if layers >= MAX_JSON_LAYERS:
            raise _MessageRejected(
                f"The message nests JSON strings or SNS envelopes more than {MAX_JSON_LAYERS} layers deep. "
                "Publish the event itself, or one SNS envelope around it, without encoding it again."
            )
        value = _decode_json(text, label)
        layers += 1

    if not isinstance(value, dict):
        raise _MessageRejected(f"The message is {_describe(value)}, not a JSON object. {_FIX_JSON}")
    return value


def _decode_json(text: str, label: str) -> object:
    if not text.strip():
        raise _MessageRejected(f"{label} is empty. {_FIX_JSON}")
    try:
        return json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_reject_constant)
    except _JsonProblem as problem:
        raise _MessageRejected(f"{label} {problem}. {_FIX_JSON}") from None
    except json.JSONDecodeError as error:
        problem = error.msg.removesuffix(" at")  # some of the decoder's messages end in " at"
        raise _MessageRejected(
            f"{label} is not valid JSON ({problem} at line {error.lineno} column {error.colno}): "
            f"{_quote(text)}. {_FIX_JSON}"
        ) from None
    except RecursionError:
        raise _MessageRejected(f"{label} nests arrays or objects too deeply to read. {_FIX_JSON}") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise _MessageRejected(f"{label} contains a number too long to read. {_FIX_JSON}") from None


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    """Build a JSON object, rejecting a key given twice: which of the two counts is ambiguous."""
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise _JsonProblem(f"contains the key {_quote(key)} twice")
        result[key] = value
    return result


def _reject_constant(name: str) -> object:
    raise _JsonProblem(f"contains {name}, which is not valid JSON")


def _is_sns_envelope(obj: dict) -> bool:
    if "detail-type" in obj:
        return False
    has_type = any(key.lower() == "type" for key in obj)
    has_sns_field = any(key.lower() in ("message", "topicarn", "messageid") for key in obj)
    return has_type and has_sns_field


def _envelope_field(envelope: dict, name: str) -> object:
    """Return the envelope field ``name`` matched in any letter case, or None if missing."""
    keys = [key for key in envelope if key.lower() == name.lower()]
    if len(keys) > 1:
        listed = ", ".join(_quote(key) for key in keys)
        raise _MessageRejected(f"The SNS envelope has the field {name} more than once ({listed}). {_FIX_JSON}")
    return envelope[keys[0]] if keys else None


def _sns_message(envelope: dict) -> str | Ignored:
    """Return the Message of an SNS notification, or Ignored for a subscription message."""
    sns_type = _envelope_field(envelope, "Type")
    if sns_type in SNS_CONFIRMATION_TYPES:
        topic = _envelope_field(envelope, "TopicArn")
        return Ignored(
            f"SNS {sns_type} for topic {_quote(topic)} carries no launch. If the subscription is "
            "still pending, confirm it with its SubscribeURL or aws sns confirm-subscription.",
            None,
        )
    if sns_type != "Notification":
        raise _MessageRejected(
            f"The SNS envelope Type {_quote(sns_type)} is not Notification, SubscriptionConfirmation "
            f"or UnsubscribeConfirmation. {_FIX_JSON}"
        )

    message = _envelope_field(envelope, "Message")
    if message is None:
        raise _MessageRejected(f"The SNS notification has no Message. {_FIX_JSON}")
    if not isinstance(message, str):
        raise _MessageRejected(
            f"The SNS notification Message must be a string of JSON, got {_describe(message)}. {_FIX_JSON}"
        )
    return message


def _read_event(event: dict) -> Launch | Ignored:
    """Choose the reader by the keys that mark each message shape."""
    if "detail-type" in event or ("source" in event and "detail" in event):
        return _read_eventbridge(event)
    if "instance_id" in event:
        return _read_plain(event)
    if any(key in event for key in ("replica", "job", "machineCloudId")):
        return _read_cloudendure(event)
    raise _MessageRejected(
        f"The message has none of the keys that identify a launch message (detail-type, instance_id, "
        f"replica, machineCloudId); its keys are {_quote_keys(event)}. Send an MGN or EC2 EventBridge "
        "event, a CloudEndure replica, or a plain message with instance_id."
    )


def _read_eventbridge(event: dict) -> Launch | Ignored:
    source = _required(event, "source", "source", _FIX_AWS)
    detail_type = _required(event, "detail-type", "detail-type", _FIX_AWS)
    _require_string(source, "source", _FIX_AWS)
    _require_string(detail_type, "detail-type", _FIX_AWS)

    if source == "aws.mgn":
        if detail_type != MGN_LAUNCH_RESULT:
            return Ignored(
                f'MGN event {_quote(detail_type)} needs no validation; only "{MGN_LAUNCH_RESULT}" events start one.',
                LaunchSource.MGN,
            )
        return _read_mgn(event)
    if source == "aws.ec2":
        if detail_type != EC2_STATE_CHANGE:
            return Ignored(
                f'EC2 event {_quote(detail_type)} needs no validation; only "{EC2_STATE_CHANGE}" events start one.',
                LaunchSource.EC2,
            )
        return _read_ec2(event)
    raise _MessageRejected(
        f"The event source {_quote(source)} (detail-type {_quote(detail_type)}) is not a launch source; "
        "this queue accepts aws.mgn and aws.ec2 events. Fix the EventBridge rule or the sender that targets it."
    )


def _read_mgn(event: dict) -> Launch:
    detail = _required_object(event, "detail", "detail", _FIX_AWS)
    state = _required(detail, "state", "detail.state", _FIX_AWS)
    if state not in MGN_LAUNCH_STATES:
        raise _MessageRejected(
            f"MGN detail.state {_quote(state)} is not a launch result state; expected one of "
            f"{', '.join(MGN_LAUNCH_STATES)}. {_FIX_NEW_STATE}"
        )
    job_id = _checked(_required(detail, "job-id", "detail.job-id", _FIX_AWS), MGN_JOB_ID, "detail.job-id", _FIX_AWS)

    resources = _required(event, "resources", "resources", _FIX_AWS)
    if not isinstance(resources, list) or not resources:
        raise _MessageRejected(
            "MGN resources must be a list that starts with the source server ARN, "
            f"got {_describe(resources)}. {_FIX_AWS}"
        )
    arn = _checked(resources[0], SOURCE_SERVER_ARN, "resources[0]", _FIX_AWS)
    source_server_id = SOURCE_SERVER_ARN.pattern.fullmatch(arn).group(1)

    return Launch(
        source=LaunchSource.MGN,
        launch_type=LaunchType.TEST if state.startswith("TEST_") else LaunchType.CUTOVER,
        instance_id=None,
        job_id=job_id,
        source_server_id=source_server_id,
        launch_failed=state.endswith("_FAILED"),
        launch_state=state,
        launched_at=_optional_time(event, "time", "time", _FIX_AWS),
    )


def _read_ec2(event: dict) -> Launch | Ignored:
    detail = _required_object(event, "detail", "detail", _FIX_AWS)
    instance_id = _checked(
        _required(detail, "instance-id", "detail.instance-id", _FIX_AWS), INSTANCE_ID, "detail.instance-id", _FIX_AWS
    )
    state = _required(detail, "state", "detail.state", _FIX_AWS)
    launched_at = _checked_time(_required(event, "time", "time", _FIX_AWS), "time", _FIX_AWS)

    if state in EC2_IGNORED_STATES:
        return Ignored(
            f"EC2 instance {instance_id} is {state}; only instances entering the running state are validated.",
            LaunchSource.EC2,
        )
    if state != "running":
        raise _MessageRejected(
            f"EC2 detail.state {_quote(state)} is not an EC2 instance state; expected running or one of "
            f"{', '.join(EC2_IGNORED_STATES)}. {_FIX_NEW_STATE}"
        )
    return Launch(
        source=LaunchSource.EC2,
        launch_type=None,
        instance_id=instance_id,
        job_id=None,
        source_server_id=None,
        launch_state=state,
        launched_at=launched_at,
    )


def _read_cloudendure(message: dict) -> Launch | Ignored:
    if "replica" not in message and "job" not in message:
        replica, job = message, None
    else:
        _reject_unknown_keys(message, CLOUDENDURE_WRAPPER_KEYS, "CloudEndure message", _FIX_CLOUDENDURE)
        replica = _required_object(message, "replica", "replica", _FIX_CLOUDENDURE)
        job = message.get("job")
        if job is not None and not isinstance(job, dict):
            raise _MessageRejected(f"CloudEndure job must be a JSON object, got {_describe(job)}. {_FIX_CLOUDENDURE}")

    instance_id = _checked(
        _required(replica, "machineCloudId", "replica.machineCloudId", _FIX_CLOUDENDURE),
        INSTANCE_ID,
        "replica.machineCloudId",
        _FIX_CLOUDENDURE,
    )
    machine = _required(replica, "machine", "replica.machine", _FIX_CLOUDENDURE)
    machine_id = _checked(machine, CLOUDENDURE_ID, "replica.machine", _FIX_CLOUDENDURE).lower()
    launched_at = _optional_time(
        replica, "cloudEndureCreationDateTime", "replica.cloudEndureCreationDateTime", _FIX_CLOUDENDURE
    )

    launch_type, job_id, job_status = None, None, None
    if job is not None:
        job_type = _required(job, "type", "job.type", _FIX_CLOUDENDURE)
        if job_type in CLOUDENDURE_IGNORED_JOB_TYPES:
            return Ignored(
                f"CloudEndure job type {job_type} launches nothing to validate; only TEST_LAUNCH and "
                "CUTOVER_LAUNCH jobs are validated.",
                LaunchSource.CLOUDENDURE,
            )
        if job_type not in CLOUDENDURE_LAUNCH_JOB_TYPES:
            raise _MessageRejected(
                f"CloudEndure job.type {_quote(job_type)} is not a CloudEndure job type; expected TEST_LAUNCH or "
                f"CUTOVER_LAUNCH. {_FIX_CLOUDENDURE}"
            )
        launch_type = LaunchType.TEST if job_type == "TEST_LAUNCH" else LaunchType.CUTOVER
        job_id = _required(job, "id", "job.id", _FIX_CLOUDENDURE)
        job_id = _checked(job_id, CLOUDENDURE_ID, "job.id", _FIX_CLOUDENDURE).lower()
        job_status = _cloudendure_job_status(job)
        _check_participating_machines(job, machine_id)

    return Launch(
        source=LaunchSource.CLOUDENDURE,
        launch_type=launch_type,
        instance_id=instance_id,
        job_id=job_id,
        source_server_id=machine_id,
        launch_state=job_status,
        launched_at=launched_at,
    )


def _cloudendure_job_status(job: dict) -> str | None:
    status = job.get("status")
    if status is None or status in CLOUDENDURE_JOB_STATUSES:
        return status
    raise _MessageRejected(
        f"CloudEndure job.status {_quote(status)} is not a CloudEndure job status; expected one of "
        f"{', '.join(CLOUDENDURE_JOB_STATUSES)}. {_FIX_CLOUDENDURE}"
    )


def _check_participating_machines(job: dict, machine_id: str) -> None:
    machines = job.get("participatingMachines")
    if machines is None:
        return
    if not isinstance(machines, list) or not all(isinstance(machine, str) for machine in machines):
        raise _MessageRejected(
            f"CloudEndure job.participatingMachines must be a list of machine ids, got {_describe(machines)}. "
            f"{_FIX_CLOUDENDURE}"
        )
    if machines and machine_id not in (machine.lower() for machine in machines):
        raise _MessageRejected(
            f"CloudEndure job.participatingMachines does not list the replica's machine {machine_id}, so the job "
            f"is not this replica's launch. {_FIX_CLOUDENDURE}"
        )


def _read_plain(message: dict) -> Launch:
    _reject_unknown_keys(message, PLAIN_KEYS, "Plain launch message", _FIX_PLAIN)
    instance_id = _checked(message["instance_id"], INSTANCE_ID, "instance_id", _FIX_PLAIN)
    suite = message.get("suite")
    if suite is not None:
        suite = _checked(suite, SUITE_NAME, "suite", _FIX_PLAIN)
    wave = message.get("wave")
    if wave is not None:
        problem = _wave_problem(wave)
        if problem:
            raise _MessageRejected(f"wave {problem}. {_FIX_PLAIN}")
    request_id = message.get("request_id")
    if request_id is not None:
        request_id = _checked(request_id, REQUEST_ID, "request_id", _FIX_PLAIN)

    return Launch(
        source=LaunchSource.PLAIN,
        launch_type=None,
        instance_id=instance_id,
        job_id=None,
        source_server_id=None,
        suite=suite,
        wave=wave,
        request_id=request_id,
    )


# Field helpers: each raises _MessageRejected with the field's path in the message.


def _required(obj: dict, key: str, path: str, fix: str) -> object:
    value = obj.get(key)
    if value is None:
        raise _MessageRejected(f"{path} is missing. {fix}")
    return value


def _required_object(obj: dict, key: str, path: str, fix: str) -> dict:
    value = _required(obj, key, path, fix)
    if not isinstance(value, dict):
        raise _MessageRejected(f"{path} must be a JSON object, got {_describe(value)}. {fix}")
    return value


def _require_string(value: object, path: str, fix: str) -> str:
    if not isinstance(value, str):
        raise _MessageRejected(f"{path} must be a string, got {_quote(value)}. {fix}")
    return value


def _checked(value: object, value_format: _Format, path: str, fix: str) -> str:
    problem = value_format.problem(value)
    if problem:
        raise _MessageRejected(f"{path} {problem}. {fix}")
    return value


def _checked_time(value: object, path: str, fix: str) -> str:
    problem = _timestamp_problem(value)
    if problem:
        raise _MessageRejected(f"{path} {problem}. {fix}")
    return value


def _optional_time(obj: dict, key: str, path: str, fix: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    return _checked_time(value, path, fix)


def _reject_unknown_keys(obj: dict, allowed: tuple[str, ...], message_kind: str, fix: str) -> None:
    unknown = {key: value for key, value in obj.items() if key not in allowed}
    if unknown:
        raise _MessageRejected(
            f"{message_kind} has unknown keys {_quote_keys(unknown)}; the allowed keys are {', '.join(allowed)}. {fix}"
        )


# Showing values in reasons: ASCII only, control characters escaped, length capped.


def _escape(text: str, limit: int = _QUOTE_LIMIT) -> str:
    """Escape ``text`` as the inside of a JSON string, cut at ``limit`` characters of output.

    The cut falls between escape sequences, never inside one, and the result
    ends with the length of the original.
    """
    escaped, cut = _escape_prefix(text, limit)
    if cut:
        return f"{escaped}... ({len(text)} characters in all)"
    return escaped


def _escape_prefix(text: str, limit: int) -> tuple[str, bool]:
    """Return the escaped start of ``text`` that fits in ``limit`` characters, and whether it was cut."""
    pieces: list[str] = []
    size = 0
    for char in text:
        piece = json.dumps(char)[1:-1]  # ASCII only: control, non-ASCII and surrogate characters become escapes
        if size + len(piece) > limit:
            return "".join(pieces), True
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces), False


def _quote(value: object) -> str:
    """Show a value from a message in a reason."""
    if isinstance(value, str):
        escaped, cut = _escape_prefix(value, _QUOTE_LIMIT)
        if cut:
            return f'"{escaped}"... ({len(value)} characters in all)'
        return f'"{escaped}"'
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return _escape(repr(value), 40)
    return _describe(value)


def _quote_keys(obj: dict) -> str:
    keys = sorted(obj)
    listed = ", ".join(_quote(key) for key in keys[:_KEYS_SHOWN])
    if len(keys) > _KEYS_SHOWN:
        listed += f" and {len(keys) - _KEYS_SHOWN} more"
    return listed or "none"


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array" if value else "an empty JSON array"
    if isinstance(value, str):
        return f"the string {_quote(value)}"
    if isinstance(value, bool):
        return f"the JSON boolean {json.dumps(value)}"
    if value is None:
        return "JSON null"
    if isinstance(value, (int, float)):
        return f"the JSON number {_quote(value)}"
    return f"a {type(value).__name__}"


# Execution names and input


def execution_name(launch: Launch, attempt: int = 1) -> str:
    """Return the Step Functions execution name of one attempt at one launch.

    The name joins the source, the instance id (the source server id for MGN)
    and the first 16 hex digits of SHA-256 of ``launch.key()``. Attempts after
    the first add "-aN". Step Functions names must be 1-80 characters, and for
    CloudWatch Logs they should use only ASCII letters, digits, "-" and "_".
    The longest name here is 54 characters, because ``Launch`` validates each
    part and ``MAX_ATTEMPT`` has four digits.
    """
    _check_attempt(attempt)
    readable_id = launch.source_server_id if launch.source is LaunchSource.MGN else launch.instance_id
    digest = hashlib.sha256(launch.key().encode("utf-8")).hexdigest()[:NAME_HASH_LENGTH]
    name = f"{launch.source.value}-{readable_id}-{digest}"
    if attempt > 1:
        name += f"-a{attempt}"
    return name


def execution_input(launch: Launch, attempt: int = 1) -> str:
    """Return the execution input as compact JSON with sorted keys.

    The state machine reads the launch under ``launch`` and its own name under
    ``execution_name``. A duplicate delivery of a launch gives byte-identical
    input, so StartExecution with the same name returns the running execution
    instead of raising ExecutionAlreadyExists.
    """
    _check_attempt(attempt)
    document = {"attempt": attempt, "execution_name": execution_name(launch, attempt), "launch": launch.to_input()}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _check_attempt(attempt: object) -> None:
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt <= MAX_ATTEMPT:
        raise AttemptInvalid(attempt)
