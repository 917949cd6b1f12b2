"""StartValidation: read a batch of launch messages and start one execution per launch.

A message that cannot be read is moved to the dead-letter queue with its reason and counts as
handled, so it neither blocks the batch nor comes back. A message whose execution could not be
started is reported as a batch item failure; SQS delivers it again and, after maxReceiveCount
deliveries, moves it to the dead-letter queue.
"""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from migration_validator.intake import dead_letter, start_validation
from migration_validator.launches import Ignored, Rejected, read_message
from migration_validator.observability import count, logger, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> str:
    reading = read_message(record.body)
    if isinstance(reading, Rejected):
        dead_letter(record.message_id, record.body, reading.reason)
        count("LaunchMessages", "outcome", "rejected")
        return "rejected"
    if isinstance(reading, Ignored):
        logger.info("launch message ignored", extra={"message_id": record.message_id, "reason": reading.reason})
        count("LaunchMessages", "outcome", "ignored")
        return "ignored"

    name, started = start_validation(reading)
    outcome = "started" if started else "duplicate"
    logger.info(
        "execution started" if started else "execution exists already; duplicate delivery",
        extra={"message_id": record.message_id, "execution_name": name, "instance_id": reading.instance_id},
    )
    count("LaunchMessages", "outcome", outcome)
    return outcome


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
