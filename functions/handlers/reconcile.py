"""Reconcile: validate launched instances that have no verdict after the grace period.

An EventBridge schedule rule invokes it every 15 minutes, and the grace period is then
RECONCILE_GRACE_MINUTES. `migration-validator reconcile` invokes it on demand and may set
``grace_minutes`` in the event.
"""

import os
from datetime import timedelta

from migration_validator.observability import count, logger, tracer
from migration_validator.reconcile import sweep


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict, context) -> dict:
    grace_minutes = event.get("grace_minutes", os.environ.get("RECONCILE_GRACE_MINUTES", "30"))
    if isinstance(grace_minutes, bool) or not str(grace_minutes).isdigit():
        raise ValueError(f"grace_minutes {grace_minutes!r} is invalid: give a whole number of minutes, 0 or more")

    sent = sweep(timedelta(minutes=int(grace_minutes)))
    for entry in sent:
        count("ReconciledLaunches", "found_by", entry.found_by)
    logger.info("reconciliation finished", extra={"sent": len(sent), "grace_minutes": int(grace_minutes)})
    return {"sent": [entry.to_dict() for entry in sent]}
