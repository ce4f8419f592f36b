"""Text work on files, no model and no disk: edit blocks and rewrites (``edits``),
the one-reply formats' shared parsing (``formats``), the part of a file a task
names (``regions``, ``restate``), which files are in play (``focus``, ``attach``)
and the project overview (``repomap``)."""
