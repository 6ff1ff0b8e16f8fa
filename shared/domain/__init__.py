"""Pure domain logic: no I/O, no SDK imports (stdlib, pydantic, and data libraries: phonenumbers, CLDR zones)."""
