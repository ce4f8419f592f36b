"""Where the agent acts: the workspace, its checkpoints, the sandboxed shell and tests.

:class:`~redline.agent.environment.environment.Environment` is the one object
the loop and the protocols act through; the modules beside it are its parts
(``workspace``: inside or outside; ``checkpoints``: undo; ``sandbox`` and
``sandbox_exec``: confinement; ``shell`` and ``testrun``: commands;
``secrets``: the scrubbed environment; ``worktrees``: git worktrees for
sub-agents). Nothing here imports the loop, the protocols or the editing code.
"""

from redline.agent.environment.environment import Environment, Written

__all__ = ["Environment", "Written"]
