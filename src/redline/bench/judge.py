"""Pick one answer out of N: the docstring's examples filter, agreement ranks.

CodeT (Chen et al. 2022) and MBR-exec (Shi et al. 2022): among sampled programs,
the ones that pass the task's own examples are likely right, and among those,
the behaviour most of them share on *other* inputs is likelier still (wrong
programs are wrong in different ways; right ones agree). The hidden tests are
never used: the examples come from the prompt, the other inputs are the
examples' own arguments changed a little (a number one up or down, a list
reversed or shortened, a string reversed or cut), so every input has a type
the function was shown with.

Every candidate is judged in ONE sandboxed child process (one interpreter
start for all N, not N): each program is executed in its own namespace, each
call under a CPU-time alarm, and the child prints one JSON line with, per
candidate, how many examples it passed and its outputs on the extra inputs.
"""

from __future__ import annotations

import ast
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from redline.bench.examples import SAME, Example
from redline.bench.sandbox import Limits, run_python_file

MAX_PROBES = 16
"""Extra inputs per problem (each candidate runs all of them)."""
CALL_S = 1.0
"""CPU seconds one call of one candidate may take in the judge."""
_MARK = "@@redline-judge@@"


@dataclass(frozen=True)
class Verdict:
    """What the judge saw of one candidate."""

    passed: int
    """Examples it got right."""
    loads: bool
    """Its module ran (no syntax error, no error at import, in time)."""
    signature: tuple[str, ...]
    """Its outputs (``repr``, or the exception's name) on the extra inputs."""


def _mutations(value: object) -> list[object]:
    """A few values of ``value``'s type near it."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, 0, value * 2 + 3]
    if isinstance(value, float):
        return [value + 0.5, value * 2, -value]
    if isinstance(value, str):
        return [value[::-1], value[:-1], value + value[:1], value.upper()] if value else ["a"]
    if isinstance(value, list | tuple):
        kind = type(value)
        items = list(value)
        out: list[object] = [kind(items[::-1]), kind(items[:-1]), kind(items + items[:1])]
        if items and all(isinstance(i, int | float) and not isinstance(i, bool) for i in items):
            out.append(kind([i + 1 for i in items]))
        return out
    return []


def _call_args(call: str, entry_point: str) -> list[object] | None:
    """The literal positional arguments of ``entry_point(...)`` in ``call`` (None: not literal)."""
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    if node.func.id != entry_point or node.keywords:
        return None
    try:
        return [ast.literal_eval(a) for a in node.args]
    except (ValueError, SyntaxError, TypeError):
        return None


def probe_calls(examples: list[Example], entry_point: str, limit: int = MAX_PROBES) -> list[str]:
    """Calls on inputs near the examples' (one argument changed at a time), then the
    examples' own calls; at most ``limit``, no repeats."""
    calls: list[str] = []
    seen = {e.call for e in examples}
    for example in examples:
        args = _call_args(example.call, entry_point)
        if args is None:
            continue
        for i, arg in enumerate(args):
            for new in _mutations(arg):
                call = (
                    f"{entry_point}({', '.join(repr(a) for a in [*args[:i], new, *args[i + 1 :]])})"
                )
                if call not in seen:
                    seen.add(call)
                    calls.append(call)
    # round-robin over the examples' mutations would be fairer; the first ones suffice
    calls = calls[: max(0, limit - len(examples))]
    return calls + [e.call for e in examples][: limit - len(calls)]


_JUDGE = (
    SAME
    + """
import io, json, signal, contextlib
class _Slow(Exception):
    pass
def _alarm(*_):
    raise _Slow()
signal.signal(signal.SIGALRM, _alarm)
def _run(fn, *a):
    signal.setitimer(signal.ITIMER_REAL, {call_s})
    try:
        return fn(*a)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
def _show(value):
    if isinstance(value, float):
        return repr(round(value, 6))
    return repr(value)[:300]
_out = []
for _program in {programs!r}:
    _ns = {{"__name__": "candidate"}}
    _passed, _sig = 0, []
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            _run(exec, _program, _ns)
            _ok = True
        except BaseException:
            _ok = False
        for _call, _want in {cases!r}:
            try:
                _passed += _ok and _same(_run(eval, _call, _ns), eval(_want))
            except BaseException:
                pass
        for _call in {probes!r}:
            try:
                _sig.append(_show(_run(eval, _call, _ns)) if _ok else "!load")
            except BaseException as _exc:
                _sig.append("!" + type(_exc).__name__)
    _out.append([int(_passed), _ok, _sig])
print({mark!r} + json.dumps(_out))
"""
)


def judge(
    programs: list[str], examples: list[Example], probes: list[str], limits: Limits | None = None
) -> list[Verdict]:
    """Every program's examples passed and outputs on ``probes``, from one child process.

    A child that dies (memory, a runaway past every alarm) gives every program
    nothing: zero examples passed, an empty signature."""
    cases = [(e.call, e.want) for e in examples]
    script = _JUDGE.format(programs=programs, cases=cases, probes=probes, call_s=CALL_S, mark=_MARK)
    budget = CALL_S * (1 + len(cases) + len(probes)) * max(1, len(programs))
    limits = limits or Limits(timeout_s=min(60.0, 5.0 + budget))
    with tempfile.TemporaryDirectory(prefix="redline-he-judge-") as tmp:
        path = Path(tmp) / "judge.py"
        path.write_text(script, encoding="utf-8")
        outcome = run_python_file(path, limits=limits)
    for line in reversed(outcome.output.splitlines()):
        if line.startswith(_MARK):
            rows = json.loads(line[len(_MARK) :])
            return [Verdict(int(p), bool(ok), tuple(sig)) for p, ok, sig in rows]
    return [Verdict(0, False, ()) for _ in programs]


def choose(programs: list[str], verdicts: list[Verdict], preferred: int = 0) -> int:
    """The index of the answer to keep.

    Those that load and pass the most examples (all of them, when any does) survive;
    among them the largest group with the same outputs on the extra inputs wins;
    a tie goes to the group holding ``preferred`` (the greedy answer), then to
    the group holding the shortest program; inside the group, ``preferred`` if it
    is there, else the shortest program.
    """
    best = max((v.loads, v.passed) for v in verdicts)
    alive = [i for i, v in enumerate(verdicts) if (v.loads, v.passed) == best]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i in alive:
        groups.setdefault(verdicts[i].signature, []).append(i)

    def rank(members: list[int]) -> tuple[int, bool, int]:
        return (len(members), preferred in members, -min(len(programs[i]) for i in members))

    winner = max(groups.values(), key=rank)
    if preferred in winner:
        return preferred
    return min(winner, key=lambda i: (len(programs[i]), i))


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator of pass@k from ``n`` samples of which ``c`` passed
    (Chen et al. 2021): ``1 - C(n-c, k) / C(n, k)``."""
    if k > n:
        raise ValueError(f"k={k} needs at least k samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
