"""Pure domain logic: no I/O, no SDK imports (stdlib and pydantic only)."""
