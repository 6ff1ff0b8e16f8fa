"""HTTP emulators of the outside services, each on loopback, driven by the real SDKs."""
