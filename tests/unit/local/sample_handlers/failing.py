"""Raises TargetNotReady, exits the process or returns an unserializable result, as event["action"] selects."""

import os
import sys


class TargetNotReady(Exception):
    pass


def handler(event, context):
    action = event.get("action")
    if action == "exit":
        sys.stdout.flush()
        os._exit(3)
    if action == "unserializable":
        return {"value": object()}
    raise TargetNotReady(f"instance {event.get('instance_id')} is not reachable yet")
