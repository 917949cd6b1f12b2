"""The benchmark's code on a small suite: every approach runs and succeeds; speed is not asserted here."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest

from helpers import REPO_ROOT

pytestmark = pytest.mark.timeout(120)


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_compare", REPO_ROOT / "bench" / "compare.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_bench_runs_every_approach():
    bench = load_bench()
    lines: list[str] = []

    medians = bench.measure(checks=3, repeat=1, report=lines.append)

    assert set(medians) == {"engine", "testinfra", "ssh-per-check", "floor"}
    assert all(seconds > 0 for seconds in medians.values())
    assert re.fullmatch(r"ratios: engine/floor=\d+\.\d\d testinfra/engine=\d+\.\d\d", lines[-1])


def test_bench_commands_differ_and_succeed_locally():
    commands = load_bench().bench_commands(12)

    assert len(set(commands)) == 12
    assert all(subprocess.run(["sh", "-c", text], capture_output=True).returncode == 0 for text in commands)
