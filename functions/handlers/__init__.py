"""Lambda handlers: each parses its event, does one step through migration_validator, returns a small result."""
