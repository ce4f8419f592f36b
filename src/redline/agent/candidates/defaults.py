"""How many candidates a task gets when the user does not say.

The rule, and what it rests on (README, *Candidates*):

- nothing can check the candidates (no failing tests, no tests beside the code
  in play, no assertion or example in the task): **1**. N replies could only
  vote, and a small model's samples mostly agree with its greedy reply, at N
  times the decode.
- a check exists and the provider serves several requests at once (a remote
  server, a router over several, an engine loaded with that many sequences):
  **4**. The replies decode together, each is checked as soon as it ends, and
  the rest are stopped once one passes.
- a check exists but the provider answers one request at a time (the in-process
  engine as ``redline exec`` loads it): **1**. Measured on this 2-core machine:
  the 0.5B decodes 4 rows at about 1.3x one row's rate (README, *Parallel
  sub-agents*), so four replies cost about 3x one; an engine loaded with 4
  sequences had not finished the three sampled replies of the sample task after
  15 minutes (the machine shared by ~5 runs: the greedy reply alone took 460 s
  in the one-at-a-time run). N continuations of one prompt in the engine
  (issue 32 item 1) are what would make this case pay.

An explicit ``--candidates N`` / ``candidates = N`` always wins; with no check
the N then vote.
"""

from __future__ import annotations

from redline.agent.candidates.replies import together
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
    """Whether ``provider`` decodes several replies to one prompt together (``n``)."""
    return together(provider)
