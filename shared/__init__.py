"""Frontdesk's shared code: domain logic, ports, adapters, settings and logging."""
