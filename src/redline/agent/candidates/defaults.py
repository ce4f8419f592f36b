"""How many candidates a task gets when the user does not say.

The rule, and what it rests on (README, *Candidates*):

- nothing can check the candidates (no failing tests, no tests beside the code
  in play, no assertion or example in the task): **1**. N replies could only
  vote, and a small model's samples mostly agree with its greedy reply, at N
  times the decode.
- a check exists: **1 until measured**. On the in-process engine N replies
  decode in one batch, but on a small CPU that is not free: on this 2-core
  machine 4 rows decode at about 1.3x one row's rate (``redline bench serve
  --n 4`` prints both), so four replies take about 3x one reply's decode time.
  Measured once on the sample task with ``--candidates 4`` (machine shared
  with other runs): the greedy reply passed its tests and stopped the other
  three, 106 s of model time. A server that declares ``n`` decodes them on its
  own hardware; what N pays there is not measured yet. ``--candidates N`` opts
  in everywhere.

An explicit ``--candidates N`` / ``candidates = N`` wins where a check exists.
With no check it gives one reply unless ``--vote`` (``vote = true``) asks the N
to vote: measured on polyglot-python's first try (tests hidden, as in aider's
benchmark), eight voting replies took 79-110 s of model time where one reply
takes 20-30 s, to choose among answers nothing had tested.
"""

from __future__ import annotations

from redline.agent.candidates.replies import together
from redline.providers.base import Provider

DEFAULT_WITH_CHECK = 4
MEASURED_DEFAULT = False
"""True once a machine's measurement says N candidates pay there by default."""


def candidates_for(
    provider: Provider, has_check: bool, configured: int | None, vote: bool = False
) -> int:
    """The number of candidates for one task (1: the ordinary single reply)."""
    if not has_check and not vote:
        return 1
    if configured is not None:
        return max(1, configured)
    if not has_check:
        return 1
    return DEFAULT_WITH_CHECK if batches(provider) and MEASURED_DEFAULT else 1


def batches(provider: Provider) -> bool:
    """Whether a server decodes several replies to one prompt together (``n``)."""
    return together(provider) and not provider.capabilities.local_engine
