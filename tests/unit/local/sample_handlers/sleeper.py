"""Sleeps for event["seconds"] and reports its process id."""

import os
import time


def handler(event, context):
    time.sleep(event["seconds"])
    return {"pid": os.getpid(), "slept": event["seconds"]}
