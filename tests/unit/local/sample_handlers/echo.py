"""Returns the event and the context attributes, so tests can check what a handler receives."""

import os

INIT_PID = os.getpid()


def handler(event, context):
    print("echo handler printed to stdout")
    return {
        "event": event,
        "pid": os.getpid(),
        "init_pid": INIT_PID,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "client_context_custom": context.client_context.custom if context.client_context else None,
        "environment": {key: os.environ.get(key) for key in event.get("env_keys", [])},
    }
