"""The service layer: use cases composed from the domain and the ports (booking, availability, notifications).

Triggers and activities call these; they never build adapters themselves. ``get_services()`` is the
one place where adapters are chosen from settings.
"""
