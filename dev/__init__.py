"""The local stack: Azurite, the development host and the emulators. Never imported by production code."""
