"""Shared code of the migration-validator Lambda functions."""
