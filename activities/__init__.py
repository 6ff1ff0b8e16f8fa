"""Durable activities: one idempotent I/O step each, calling shared services through ports."""
