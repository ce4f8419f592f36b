"""Parallel sub-agents: a task split into parts, each an ordinary agent in its own
git worktree, merged back one by one (``parallel``, ``subtasks``, ``mergeback``)."""
