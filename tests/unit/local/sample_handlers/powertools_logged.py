"""Logs with the Powertools Logger and its injected Lambda context."""

from aws_lambda_powertools import Logger

logger = Logger(service="sample")


@logger.inject_lambda_context
def handler(event, context):
    logger.info("handling sample event", extra={"marker": event["marker"]})
    return {"ok": True}
