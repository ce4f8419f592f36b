"""The front of the agent: the interactive session, the session log (JSONL),
the renderers (people and ``--json``) and the wiring the CLI calls (``runner``)."""
