"""Real implementations of the ports in ``shared.ports``, each built on the official SDK (imported lazily)."""
