"""How many candidates a task gets when the user does not say.

The rule, and what it rests on (README, *Candidates*):

- nothing can check the candidates (no failing tests, no tests beside the code
  in play, no assertion or example in the task): **1**. N replies could only
  vote, and a small model's samples mostly agree with its greedy reply, at N
  times the decode.
- a check exists and a server decodes N replies to one prompt together (a
  remote provider that declares OpenAI ``n``: ``redline serve``, vLLM; a
  router whose members all do): **4**. The prompt is read once, the replies
  share each decode step on the server's hardware, each reply is checked as
  soon as it ends, and the rest are stopped once one passes.
- the in-process engine: **1** unless asked. It decodes the N replies in one
  batch too, but on a small CPU that is not free: on this 2-core machine 4 rows
  decode at about 1.3x one row's rate (``redline bench serve --n 4`` prints
  both), so four replies take about 3x one reply's decode time. Measured once
  on the sample task with ``--candidates 4`` (machine shared with other runs):
  the greedy reply passed its tests and stopped the other three, 106 s of model
  time. ``--candidates N`` opts in.
- a check exists but the provider answers one reply per request (no ``n``):
  **1**. N requests would each read the prompt again, and on a small machine
  the prompt is most of a turn's cost.

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
    """Whether a server decodes several replies to one prompt together (``n``)."""
    return together(provider) and not provider.capabilities.local_engine
