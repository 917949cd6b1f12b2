"""Paths of the repository's parts, because the command-line tool runs from a checkout."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
SUITES_DIR = REPO_ROOT / "test_suites"
TEMPLATE = REPO_ROOT / "template.yaml"
LOCAL_STATE_DIR = REPO_ROOT / "build" / "local"


def use_function_code() -> None:
    """Make the Lambda functions' shared package importable, as the local workers see it."""
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
