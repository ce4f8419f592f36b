"""``redline bench agent``: redline's agent on polyglot-python, optionally beside aider.

Without ``--vs-aider`` the agent talks to the chosen provider (the in-process
engine for an embedded model). With it, one ``redline serve`` is started and
*both* agents are pointed at it, so the model, the server and the machine are
the same and only the agents differ. Cases alternate between the agents
(redline then aider on each exercise) so that background load on a shared
machine falls on both alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from redline.bench.harness import AgentRunner, CaseResult, Probe, run_case, summarize
from redline.bench.polyglot import Exercise, default_root, list_exercises
from redline.bench.redline_runner import RedlineRunner, bench_config
from redline.bench.results import envelope
from redline.errors import ConfigError

Tick = Callable[[str], None]


def _run_all(
    runners: list[AgentRunner],
    exercises: list[Exercise],
    *,
    tries: int,
    case_timeout_s: float,
    run_limit_s: float,
    tick: Tick | None,
    probe: Probe | None = None,
    transcripts: Path | None = None,
) -> dict[str, tuple[list[CaseResult], list[str]]]:
    out: dict[str, tuple[list[CaseResult], list[str]]] = {r.name: ([], []) for r in runners}
    stop_at = time.monotonic() + run_limit_s
    for exercise in exercises:
        for runner in runners:
            results, skipped = out[runner.name]
            remaining = stop_at - time.monotonic()
            if remaining <= 0:
                skipped.append(exercise.name)
                continue
            case_s = min(case_timeout_s, remaining)
            results.append(
                run_case(
                    runner,
                    exercise,
                    tries=tries,
                    case_timeout_s=case_s,
                    probe=probe,
                    transcripts=transcripts,
                )
            )
            if tick:
                tick(f"{runner.name}: {exercise.name}")
    return out


def _report(
    outcome: dict[str, tuple[list[CaseResult], list[str]]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    agents = {name: summarize(res, skipped) for name, (res, skipped) in outcome.items()}
    cases = [asdict(r) for res, _ in outcome.values() for r in res]
    return agents, cases


def run_agent_bench(
    model: str = "smollm2-135m",
    *,
    provider: str | None = None,
    exercises: str | int | None = 6,
    tries: int = 2,
    vs_aider: bool = False,
    case_timeout_s: float = 240.0,
    run_limit_s: float = 14400.0,
    data: Path | None = None,
    max_steps: int = 10,
    speculation: bool = True,
    transcripts: Path | None = None,
    tick: Tick | None = None,
    candidates: int | None = None,
) -> dict[str, Any]:
    """Run the cases; the returned dict is what ``--json`` prints and the plot reads.

    ``speculation=False`` measures the same agent on the one-token decoder: no
    ``prediction`` or ``quotes`` drafts, and a server without prompt lookup.
    ``candidates``: redline's agent tries N replies per answer (each checked in a
    scratch copy, the best kept); aider keeps its two tries. A try is still one
    answer the user would see, whatever ran inside it."""
    chosen = list_exercises(data or default_root(), exercises)
    config = bench_config(max_steps=max_steps, candidates=candidates)
    settings: dict[str, Any] = {
        "candidates": candidates or 1,
        "tries": tries,
        "case_timeout_s": case_timeout_s,
        "run_limit_s": run_limit_s,
        "speculation": speculation,
        "redline_agent": {k: v for k, v in vars(config).items() if k != "test_command"},
    }
    started = time.perf_counter()
    if vs_aider:
        outcome, endpoint = _vs_aider(
            model,
            chosen,
            config,
            tries,
            case_timeout_s,
            run_limit_s,
            tick,
            speculation,
            transcripts,
        )
    else:
        from redline.agent.model_select import select_provider
        from redline.config import load_settings

        chosen_provider = select_provider(load_settings(), model=model, provider=provider)
        if hasattr(chosen_provider, "speculation"):
            chosen_provider.speculation = speculation
        elif not speculation:
            raise ConfigError(
                f"--no-speculation needs the in-process engine; {chosen_provider.name} "
                "drafts (or not) on its own server"
            )
        runner = RedlineRunner(chosen_provider, config=config)
        outcome = _run_all(
            [runner],
            chosen,
            tries=tries,
            case_timeout_s=case_timeout_s,
            run_limit_s=run_limit_s,
            tick=tick,
            transcripts=transcripts,
        )
        endpoint = f"provider {chosen_provider.name} (in-process)" if provider is None else provider
    agents, cases = _report(outcome)
    ratio = None
    if "aider" in agents and agents["aider"]["seconds_per_case"]:
        ratio = round(
            agents["redline"]["seconds_per_case"] / agents["aider"]["seconds_per_case"], 3
        )
    return envelope(
        "agent",
        model=model,
        endpoint=endpoint,
        exercises=[e.name for e in chosen],
        settings=settings,
        wall_s=round(time.perf_counter() - started, 1),
        agents=agents,
        seconds_ratio_redline_over_aider=ratio,
        transcripts=str(transcripts) if transcripts is not None else None,
        cases=cases,
    )


def _vs_aider(
    model: str,
    chosen: list[Exercise],
    config: Any,
    tries: int,
    case_timeout_s: float,
    run_limit_s: float,
    tick: Tick | None,
    speculation: bool = True,
    transcripts: Path | None = None,
) -> tuple[dict[str, tuple[list[CaseResult], list[str]]], str]:
    """Both agents against one ``redline serve``: the only fair comparison."""
    from redline.bench.aider_runner import AiderRunner, find_aider
    from redline.bench.endpoint import ServeProcess, server_counters
    from redline.providers.openai_compat import OpenAICompatProvider

    aider_bin = find_aider()  # fail before starting anything
    # Prompt lookup on: aider's whole-file replies copy the stub, and drafting from
    # the prompt speeds them up (redline's grammar-constrained calls cannot use it).
    with ServeProcess(model, args=("--prompt-lookup",) if speculation else ()) as srv:
        remote = OpenAICompatProvider(
            "redline-serve",
            srv.base_url,
            model,
            "bench",
            read_timeout=case_timeout_s,
            send_prediction=speculation,
        )
        aider = AiderRunner(srv.base_url, model, aider=aider_bin)
        try:
            outcome = _run_all(
                [RedlineRunner(remote, config=config), aider],
                chosen,
                tries=tries,
                case_timeout_s=case_timeout_s,
                run_limit_s=run_limit_s,
                tick=tick,
                probe=lambda: server_counters(srv.root_url),
                transcripts=transcripts,
            )
        finally:
            aider.close()
        return outcome, f"redline serve {srv.base_url} (model {model})"
