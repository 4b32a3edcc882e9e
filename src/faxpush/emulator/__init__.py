"""The Fax4A REST API v1 emulator: fax jobs in, simulated transmissions, status pushes out."""
