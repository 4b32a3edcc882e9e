"""Observability plumbing shared by every process: structured logs, tracing, metrics, health."""
