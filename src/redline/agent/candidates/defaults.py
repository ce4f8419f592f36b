"""How many candidates a task gets when the user does not say.

The rule, and what it rests on (README, *Candidates*):

- nothing can check the candidates (no failing tests, no tests beside the code
  in play, no assertion or example in the task): **1**. N replies could only
  vote, and a small model's samples mostly agree with its greedy reply, at N
  times the decode.
- a check exists: **what the provider measured** (``Capabilities.candidates``).
  For a local model, ``redline tune`` times the batch kernels and keeps the
  most rows (2, 4, 8) that decode together at no more than 1.5x one reply's
  time: where N replies are nearly free, N are asked for by default. On the
  2-core build machine they are not (8 rows decode at 1.57x one row's rate,
  4 rows at about 1.3x: eight replies cost about five, four about three), so
  the default stays 1 there; a GPU batches eight rows at several times one
  row's rate. A remote server's cost of N is not measured: 1.
  ``--candidates N`` opts in everywhere.

An explicit ``--candidates N`` / ``candidates = N`` wins where a check exists.
With no check it gives one reply unless ``--vote`` (``vote = true``) asks the N
to vote: measured on polyglot-python's first try (tests hidden, as in aider's
benchmark), eight voting replies took 79-110 s of model time where one reply
takes 20-30 s, to choose among answers nothing had tested.
"""

from __future__ import annotations

from redline.providers.base import Provider


def candidates_for(
    measured: int, has_check: bool, configured: int | None, vote: bool = False
) -> int:
    """The number of candidates for one task (1: the ordinary single reply);
    ``measured`` is :func:`measured_default` of the task's provider."""
    if configured is not None and (has_check or vote):
        return max(1, configured)
    return measured if has_check and configured is None else 1


def measured_default(provider: Provider) -> int:
    """Candidates the provider's measurement says are worth asking together (1: none)."""
    caps = provider.capabilities
    return max(1, caps.candidates) if caps.n else 1
