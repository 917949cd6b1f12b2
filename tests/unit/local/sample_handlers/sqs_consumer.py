"""SQS consumer: reports messages whose body starts with "fail" as batch item failures.

A body of "raise" makes the whole invocation fail; a body of "bad-id" reports an
itemIdentifier that is not in the batch. Each event is appended as one JSON line to the
file named by EVENT_LOG_PATH, so tests can see what the function received.
"""

import json
import os


def handler(event, context):
    with open(os.environ["EVENT_LOG_PATH"], "a") as log:
        log.write(json.dumps(event) + "\n")

    failures = []
    for record in event["Records"]:
        body = record["body"]
        if body == "raise":
            raise RuntimeError("consumer failed on purpose")
        if body == "bad-id":
            failures.append({"itemIdentifier": "not-a-message-id"})
        elif body.startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
