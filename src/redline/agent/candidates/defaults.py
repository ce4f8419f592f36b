"""How many candidates a task gets when the user does not say.

The rule (measured; see docs/candidates.md for the figures and commands):

- nothing can check the candidates (no failing tests, no tests beside the code
  in play): **1**. Without a check, N replies can only vote, and a vote among a
  small model's samples mostly agrees on the greedy reply it already had, at
  N times the decode.
- a check exists and the provider decodes several sequences together (the
  in-process engine, a remote server): **4**. On the 0.5B coder model here four
  rows of one batch cost well under twice one row, and the test run, not the
  decode, is most of a candidate's cost; eight doubles the checks for little.
- a check exists but the provider answers one request at a time: **1** (N
  replies would cost N times the time).

An explicit ``--candidates N`` / ``candidates = N`` always wins; with no check
the N then vote.
"""

from __future__ import annotations

from redline.agent.candidates.replies import lanes
from redline.providers.base import Provider

DEFAULT_WITH_CHECK = 4


def candidates_for(provider: Provider, has_check: bool, configured: int | None) -> int:
    """The number of candidates for one task (1: the ordinary single reply)."""
    if configured is not None:
        return max(1, configured)
    if not has_check:
        return 1
    return DEFAULT_WITH_CHECK if batches(provider) else 1


def batches(provider: Provider) -> bool:
    """Whether ``provider`` decodes several replies at once: the in-process engine
    set up with ``parallel`` sequences (the CLI does so before it loads), a server."""
    return lanes(provider) > 1

