"""Redaction of secrets in check output cut at the capture cap."""

from __future__ import annotations

from migration_validator.checks.base import REDACTED, Redactor

SECRET = "xq7Zp0aLm3Kd9TbWv2Ry"


def test_cut_secret_tail_redacted():
    text = "token=" + SECRET[:10]

    assert Redactor([SECRET]).redact(text, cut=True) == "token=" + REDACTED


def test_short_coincidence_kept():
    text = "." * 100 + "xq"

    assert Redactor([SECRET]).redact(text, cut=True) == text


def test_whole_secret_redacted_without_cut():
    assert Redactor([SECRET]).redact(f"a {SECRET} b") == f"a {REDACTED} b"


def test_short_secret_half_redacted():
    assert Redactor(["hunter2"]).redact("pw=hun", cut=True) == "pw=" + REDACTED
