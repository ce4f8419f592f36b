"""The agent-benchmark protocol, the same for every agent (redline's, aider).

Per case: a fresh workspace; try 1 gets the instructions and the stub; the
tests run; on failure try 2 gets the test output once; the tests run again.
A per-case deadline bounds both tries (an agent past it is stopped and the case
fails), a whole-run deadline stops starting new cases, and anything an agent
throws fails that case only. The columns match aider's leaderboard:
``pass_rate_1``, ``pass_rate_2``, ``percent_cases_well_formed``,
``seconds_per_case``.
"""

from __future__ import annotations

import shutil
import statistics
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from redline.bench.polyglot import Exercise, hide_tests, prepare, run_tests


@dataclass
class TryStats:
    """What one try cost, as the agent reports it."""

    well_formed: bool = True
    model_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    drafted_tokens: int = 0
    accepted_tokens: int = 0
    turns: int = 0
    truncated_replies: int = 0
    """Replies cut off by the token limit (aider: "hit a token limit")."""
    status: str = ""
    ttfts: list[float] = field(default_factory=list)
    """Each turn's time to first token (agents that report it)."""
    decode_rates: list[float] = field(default_factory=list)
    """Each turn's decode tok/s as the engine measured it (agents that report it)."""
    decode_tokens: int = 0
    decode_s: float = 0.0
    """Those turns' tokens and decode seconds: the run's overall rate weighs each turn
    by its length, where the median counts a 20-token turn as much as a 900-token one."""
    candidates: int = 0
    """Replies decoded as candidates inside this try (0: the agent runs none)."""
    test_runs: int = 0
    """Checks the agent ran on its own inside this try (candidates' test runs)."""


@dataclass
class CaseResult:
    exercise: str
    agent: str
    passed_1: bool = False
    passed_2: bool = False
    well_formed: bool = True
    seconds: float = 0.0
    agent_s: float = 0.0
    model_s: float = 0.0
    test_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    drafted_tokens: int = 0
    accepted_tokens: int = 0
    truncated_replies: int = 0
    candidates: int = 0
    """Candidate replies decoded over both tries (0: one reply per turn, no candidates)."""
    test_runs: int = 0
    """Checks run inside the agent over both tries (the benchmark's own not counted)."""
    tries: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False
    error: str | None = None

    def add(self, stats: TryStats, seconds: float, passed: bool, outcome: str) -> None:
        self.well_formed = self.well_formed and stats.well_formed
        self.agent_s += seconds
        self.model_s += stats.model_s
        self.prompt_tokens += stats.prompt_tokens
        self.completion_tokens += stats.completion_tokens
        self.drafted_tokens += stats.drafted_tokens
        self.accepted_tokens += stats.accepted_tokens
        self.truncated_replies += stats.truncated_replies
        self.candidates += stats.candidates
        self.test_runs += stats.test_runs
        self.tries.append(
            {**asdict(stats), "seconds": round(seconds, 3), "passed": passed, "tests": outcome}
        )


Probe = Callable[[], dict[str, float]]
"""Server-side token counters (prompt, completion, drafted, accepted), read around each try."""


class AgentRunner(Protocol):
    """One agent under test. ``begin`` opens a case's conversation in ``ws``."""

    name: str

    def begin(self, ws: Path, exercise: Exercise) -> None: ...

    def attempt(self, message: str, try_no: int, deadline: float) -> TryStats:
        """Work on the case until done or ``deadline`` (a ``time.monotonic()`` value)."""
        ...

    def end(self) -> None: ...


def _transcript(runner: AgentRunner) -> str:
    """The case's conversation as the agent keeps it ("" for an agent that keeps none)."""
    get = getattr(runner, "transcript", None)
    try:
        return get() if get is not None else ""
    except OSError:
        return ""


def run_case(
    runner: AgentRunner,
    exercise: Exercise,
    *,
    tries: int = 2,
    case_timeout_s: float = 300.0,
    test_timeout_s: float = 60.0,
    workdir: Path | None = None,
    probe: Probe | None = None,
    transcripts: Path | None = None,
) -> CaseResult:
    """Both tries of one case; never raises (an agent crash fails the case).

    ``probe`` reads the shared endpoint's token counters, so that every agent's
    completion tokens and speculative acceptance are metered by the same server.
    ``transcripts``: a folder that gets ``<exercise>.<agent>.md``, the conversation
    and each try's test result, to read why a case was lost or slow.
    """
    result = CaseResult(exercise.name, runner.name)
    tests: list[str] = []
    started = time.monotonic()
    deadline = started + case_timeout_s
    ws = prepare(exercise, workdir)
    try:
        hide_tests(exercise, ws)
        runner.begin(ws, exercise)
        message = exercise.first_message()
        for try_no in range(1, tries + 1):
            t0 = time.monotonic()
            before = probe() if probe else None
            stats = runner.attempt(message, try_no, deadline)
            spent = time.monotonic() - t0
            if probe and before is not None:
                after = probe()
                # a reply an agent cut short is metered too (its client never saw usage)
                for key in (
                    "prompt_tokens",
                    "completion_tokens",
                    "drafted_tokens",
                    "accepted_tokens",
                ):
                    setattr(stats, key, int(after[key] - before[key]))
            outcome = run_tests(exercise, ws, test_timeout_s)
            tests.append(
                f"## Try {try_no}: {spent:.1f} s, {stats.status or 'finished'}; tests "
                f"{'pass' if outcome.passed else 'fail'} ({outcome.reason})\n\n"
                f"```\n{outcome.output[-3000:]}\n```\n"
            )
            result.test_s += outcome.duration_s
            result.add(stats, spent, outcome.passed, outcome.reason)
            if outcome.passed:
                result.passed_2 = True
                result.passed_1 = result.passed_1 or try_no == 1
                break
            if time.monotonic() >= deadline:
                result.timed_out = True
                break
            message = exercise.second_message(outcome.output)
    except Exception as exc:  # one case's crash is that case's failure, not the run's
        result.error = f"{type(exc).__name__}: {exc}"
        result.well_formed = False
        result.tries.append({"traceback": traceback.format_exc()[-2000:]})
    finally:
        try:
            if transcripts is not None:
                transcripts.mkdir(parents=True, exist_ok=True)
                body = _transcript(runner) + "\n\n# Tests\n\n" + "\n".join(tests)
                (transcripts / f"{exercise.name}.{runner.name}.md").write_text(body)
            runner.end()
        finally:
            shutil.rmtree(ws, ignore_errors=True)
    result.seconds = time.monotonic() - started
    result.timed_out = result.timed_out or result.seconds > case_timeout_s
    return result


def run_cases(
    runner: AgentRunner,
    exercises: list[Exercise],
    *,
    tries: int = 2,
    case_timeout_s: float = 300.0,
    run_limit_s: float = 3600.0,
    tick: Callable[[str], None] | None = None,
) -> tuple[list[CaseResult], list[str]]:
    """Run cases in order until the run's limit; returns results and skipped names."""
    results: list[CaseResult] = []
    skipped: list[str] = []
    stop_at = time.monotonic() + run_limit_s
    for exercise in exercises:
        remaining = stop_at - time.monotonic()
        if remaining <= 0:
            skipped.append(exercise.name)
            continue
        case_s = min(case_timeout_s, remaining)
        results.append(run_case(runner, exercise, tries=tries, case_timeout_s=case_s))
        if tick:
            tick(f"{runner.name}: {exercise.name}")
    return results, skipped


def summarize(results: list[CaseResult], skipped: list[str]) -> dict[str, Any]:
    """Aider's leaderboard columns plus costs, over the cases that ran."""
    n = len(results)

    def pct(k: int) -> float:
        return round(100.0 * k / n, 1) if n else 0.0

    drafted = sum(r.drafted_tokens for r in results)
    return {
        "cases": n,
        "skipped": skipped,
        "pass_rate_1": pct(sum(r.passed_1 for r in results)),
        "pass_rate_2": pct(sum(r.passed_2 for r in results)),
        "percent_cases_well_formed": pct(sum(r.well_formed for r in results)),
        "seconds_per_case": round(sum(r.seconds for r in results) / n, 2) if n else 0.0,
        "agent_seconds_per_case": round(sum(r.agent_s for r in results) / n, 2) if n else 0.0,
        "model_seconds_per_case": round(sum(r.model_s for r in results) / n, 2) if n else 0.0,
        "prompt_tokens": sum(r.prompt_tokens for r in results),
        "completion_tokens": sum(r.completion_tokens for r in results),
        "speculative_acceptance": round(sum(r.accepted_tokens for r in results) / drafted, 4)
        if drafted
        else None,
        "cases_with_truncated_replies": sum(r.truncated_replies > 0 for r in results),
        "median_ttft_s": _median(t for r in results for tr in r.tries for t in tr.get("ttfts", [])),
        "median_decode_tok_s": _median(
            x for r in results for tr in r.tries for x in tr.get("decode_rates", [])
        ),
        "decode_tok_s_all": _rate(
            sum(tr.get("decode_tokens", 0) for r in results for tr in r.tries),
            sum(tr.get("decode_s", 0.0) for r in results for tr in r.tries),
        ),
        "candidates_per_case": round(sum(r.candidates for r in results) / n, 2) if n else 0.0,
        "test_runs_per_case": round(sum(r.test_runs for r in results) / n, 2) if n else 0.0,
        "timeouts": sum(r.timed_out for r in results),
        "errors": sum(r.error is not None for r in results),
    }


def _rate(tokens: int, seconds: float) -> float | None:
    """Tokens per second over all turns (None when the agent reported no timings)."""
    return round(tokens / seconds, 2) if seconds > 0 else None


def _median(values: Iterable[float]) -> float | None:
    """The median of the turns' figures (None when the agent reported none)."""
    ordered = sorted(values)
    return round(statistics.median(ordered), 3) if ordered else None
