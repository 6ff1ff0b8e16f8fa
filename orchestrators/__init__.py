"""Durable orchestrators: sequencing, timers, external events and compensation. No I/O."""
