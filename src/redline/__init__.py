"""redline: a latency-first AI coding agent and inference server."""

__version__ = "0.1.0"
