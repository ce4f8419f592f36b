"""How many candidates a task gets when the user does not say.

The rule, and what it rests on (README, *Candidates*):

- nothing can check the candidates (no failing tests, no tests beside the code
  in play, no assertion or example in the task): **1**. N replies could only
  vote, and a small model's samples mostly agree with its greedy reply, at N
  times the decode.
- a check exists and the provider decodes N replies to one prompt together
  (it declares OpenAI ``n``: the in-process engine, ``redline serve``, a
  router whose members all do): **4**. The prompt is read once and the four
  replies share each decode step: on this 2-core CPU 4 rows decode at about
  1.3x one row's rate (``redline bench serve --n 4`` prints both), reply 0 is
  the greedy one a single answer would have been, each reply is checked as
  soon as it ends, and the rest are stopped once one passes.
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
    """Whether ``provider`` decodes several replies to one prompt together (``n``)."""
    return together(provider)
