"""Errors raised by the validation steps.

Each class name is the error name Step Functions uses: a Lambda error payload's
``errorType`` becomes the name that the state machine's Retry and Catch match, so
renaming a class means changing statemachine/validation.asl.json too.
"""


class ValidationError(Exception):
    """Base class for every error this product raises on purpose."""

    def __init__(self, message: str, **ids: str) -> None:
        super().__init__(message)
        self.ids = {key: value for key, value in ids.items() if value is not None}


class TargetNotReady(ValidationError):
    """The instance cannot be reached yet; the state machine retries this one.

    ``reason`` is a reason code such as CONNECTION_REFUSED, NO_SSH_BANNER,
    TIMEOUT or AUTH_FAILED.
    """

    def __init__(self, instance_id: str, address: str, reason: str, detail: str) -> None:
        super().__init__(
            f"instance {instance_id} at {address} is not reachable yet ({reason}): {detail}",
            instance_id=instance_id,
            address=address,
        )
        self.instance_id = instance_id
        self.address = address
        self.reason = reason
        self.detail = detail


class InstanceNotFound(ValidationError):
    """EC2 has no instance with this id, or it has no private address."""

    def __init__(self, instance_id: str, detail: str) -> None:
        super().__init__(f"instance {instance_id}: {detail}", instance_id=instance_id)
        self.instance_id = instance_id


class LaunchNotResolved(ValidationError):
    """MGN has not reported the instance launched for a job yet."""

    def __init__(self, job_id: str, source_server_id: str, detail: str) -> None:
        super().__init__(
            f"job {job_id}, source server {source_server_id}: {detail}",
            job_id=job_id,
            source_server_id=source_server_id,
        )
        self.job_id = job_id
        self.source_server_id = source_server_id


class SuiteNotFound(ValidationError):
    """No suite file with this name exists in the suites directory."""

    def __init__(self, suite: str, suites_dir: str, available: list[str]) -> None:
        names = ", ".join(available) or "none"
        super().__init__(
            f"suite {suite!r} not found in {suites_dir}; available suites: {names}. "
            "Name one of them in the message or the migration-validator:suite tag.",
            suite=suite,
        )
        self.suite = suite


class SuiteInvalid(ValidationError):
    """A suite file does not match the suite schema.

    ``check_id`` and ``field`` name the place of the first error, where known.
    """

    def __init__(self, file: str, problem: str, check_id: str | None = None, field: str | None = None) -> None:
        where = file
        if check_id:
            where += f", check {check_id!r}"
        if field:
            where += f", field {field!r}"
        super().__init__(f"invalid suite {where}: {problem}", file=file, check_id=check_id, field=field)
        self.file = file
        self.check_id = check_id
        self.field = field
        self.problem = problem


class SshKeyUnavailable(ValidationError):
    """The SSH private key secret is missing, empty or not a private key."""

    def __init__(self, secret_id: str, detail: str) -> None:
        super().__init__(f"SSH key secret {secret_id!r}: {detail}", secret_id=secret_id)
        self.secret_id = secret_id


class TargetRejected(ValidationError):
    """A check would connect to an address that is not the instance's own or is forbidden."""

    def __init__(self, address: str, detail: str) -> None:
        super().__init__(f"target address {address!r} rejected: {detail}", address=address)
        self.address = address


class VerdictAlreadyRecorded(ValidationError):
    """Another verdict is already stored for this execution."""

    def __init__(self, execution_name: str, verdict: str) -> None:
        super().__init__(
            f"execution {execution_name} already has the verdict {verdict}",
            execution_name=execution_name,
        )
        self.execution_name = execution_name
        self.verdict = verdict


class LaunchAlreadyValidated(ValidationError):
    """Another execution has claimed this launch of the instance, so this one adds no verdict.

    MGN and EC2 can both report one instance launch; the state machine catches this error
    and ends the second execution in its AlreadyValidated state.
    """

    def __init__(self, instance_id: str, launch_time: str, owner_execution: str) -> None:
        super().__init__(
            f"instance {instance_id} launched at {launch_time} is validated by execution {owner_execution}; "
            "this report of the same launch adds no second verdict. To validate it again, start a new attempt "
            "or send a plain launch message.",
            instance_id=instance_id,
            launch_time=launch_time,
            owner_execution=owner_execution,
        )
        self.instance_id = instance_id
        self.launch_time = launch_time
        self.owner_execution = owner_execution


class AwsServiceUnavailable(ValidationError):
    """An AWS call still failed with throttling, a server error or a lost connection after the client's retries.

    The state machine retries the step; every step is safe to run again.
    """

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"AWS {operation} failed with {code} after the client's retries; the step is retried", operation=operation, code=code)
        self.operation = operation
        self.code = code
