"""The maximum run time of a suite, so a suite that cannot finish within its Lambda's timeout is rejected early."""

from dataclasses import dataclass

from migration_validator.checks.base import CHECK_TYPES, RunSettings
from migration_validator.checks.remote import runner_time_limit
from migration_validator.errors import SuiteInvalid
from migration_validator.suites import CheckSpec, Suite


@dataclass(frozen=True)
class RunBudget:
    """Worst-case seconds of a suite run: target-side checks over SSH and network checks run in parallel."""

    target_side_seconds: float
    network_seconds: float
    rounds: int  # SSH execs when every retrying check fails to its last attempt
    longest_check: str | None  # the check with the largest worst case of its own

    @property
    def total_seconds(self) -> float:
        return max(self.target_side_seconds, self.network_seconds)


def longest_run(suite: Suite, settings: RunSettings) -> RunBudget:
    """Return the worst case of every check timing out and using every retry attempt."""
    target_side = [spec for spec in suite.checks if CHECK_TYPES[spec.type].build_command is not None]
    network = [spec for spec in suite.checks if CHECK_TYPES[spec.type].run_single is not None]

    target_seconds = 0.0
    rounds = max((spec.attempts for spec in target_side), default=0)
    if target_side:
        timeouts = settings.ssh
        target_seconds = timeouts.connect + timeouts.banner + timeouts.handshake + timeouts.auth
        for attempt in range(1, rounds + 1):
            in_round = [spec for spec in target_side if spec.attempts >= attempt]
            if attempt > 1:
                target_seconds += max(spec.retry.interval_seconds for spec in in_round)
            target_seconds += timeouts.channel_open + settings.deadline_margin_seconds
            target_seconds += runner_time_limit([spec.timeout_seconds for spec in in_round], settings)

    network_seconds = 0.0
    if network:
        each = [_worst_single(spec) for spec in network]
        workers = max(1, settings.max_parallel_network_checks)
        # Graham's bound for checks handed to a pool of workers in any order.
        network_seconds = sum(each) / workers + max(each) * (1 - 1 / workers)

    longest = max(suite.checks, key=_worst_single, default=None)
    return RunBudget(target_seconds, network_seconds, rounds, longest.id if longest else None)


def _worst_single(spec: CheckSpec) -> float:
    interval = spec.retry.interval_seconds if spec.retry else 0.0
    return spec.attempts * spec.timeout_seconds + (spec.attempts - 1) * interval


def require_time_budget(suite: Suite, limit_seconds: float, settings: RunSettings) -> RunBudget:
    """Raise SuiteInvalid when the suite's longest possible run exceeds ``limit_seconds``."""
    budget = longest_run(suite, settings)
    if budget.total_seconds <= limit_seconds:
        return budget
    raise SuiteInvalid(
        str(suite.path),
        f"the suite can run for up to {budget.total_seconds:.0f} s (target-side checks {budget.target_side_seconds:.0f} s "
        f"in {budget.rounds} round(s) with SSH set-up, network checks {budget.network_seconds:.0f} s), more than the "
        f"time limit of {limit_seconds:g} s; the check with the longest worst case is {budget.longest_check!r}. "
        "Lower timeout_seconds or retry attempts, or split the suite",
        field="checks",
    )
