"""Benchmarks. ``python -m bench`` runs every module here that has a ``main(argv)``; results go to
``docs/PERFORMANCE.md`` (by hand, with the command and the machine)."""
