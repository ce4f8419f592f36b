"""``redline exec``, ``undo``, ``log``, ``resume`` and the bare-``redline`` session.

A thin parser over :mod:`redline.agent`; heavy imports happen inside the
commands so ``redline --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer

APPROVAL_HELP = "suggest (ask for edits and commands), auto-edit, full-auto"
FORMAT_HELP = "How the model edits: whole, diff or tools (default: by model)."
PARALLEL_HELP = (
    "Run sub-tasks in N git worktrees at once and merge them back (the model splits "
    "TASK unless --task is given)."
)
CANDIDATES_HELP = (
    "Try N replies, each in a scratch copy checked by the tests, and keep the best "
    "(default: by task and provider; 1 where nothing can check)."
)
BUDGET_HELP = "Seconds for all candidate rounds of a task (default: the task's time limit)."
VOTE_HELP = "With no tests or examples to check candidates by, let N replies vote (else one)."
SANDBOX_HELP = "Where commands and tests run: workspace-write (default), read-only, off."


def _settings(root: Path, **flags: object):
    from redline.config import load_settings

    return load_settings(root, **flags)


def exec_command(
    task: str | None = typer.Argument(
        None, help="What to do, in plain words (optional with --task)."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="Model name."),
    provider: str | None = typer.Option(None, "--provider", "-p", help="Provider name."),
    approval: str | None = typer.Option(None, "--approval", "-a", help=APPROVAL_HELP),
    sandbox: str | None = typer.Option(None, "--sandbox", "-s", help=SANDBOX_HELP),
    json_mode: bool = typer.Option(False, "--json", help="One JSON event per line."),
    root: Path = typer.Option(Path("."), "--root", "-C", help="Workspace folder."),
    max_steps: int = typer.Option(25, "--max-steps", help="Model turns before giving up."),
    max_tokens: int = typer.Option(1024, "--max-tokens", help="Tokens per model reply."),
    no_tests: bool = typer.Option(False, "--no-tests", help="Verify without running tests."),
    files: list[str] = typer.Option(
        [], "--file", "-f", help="Put this file into the task (repeatable; @path in TASK too)."
    ),
    edit_format: str | None = typer.Option(None, "--edit-format", help=FORMAT_HELP),
    parallel: int = typer.Option(0, "--parallel", "-j", min=0, help=PARALLEL_HELP),
    subtasks: list[str] = typer.Option(
        [], "--task", "-t", help="A sub-task for --parallel (repeatable; no model split then)."
    ),
    candidates: int | None = typer.Option(None, "--candidates", "-n", min=1, help=CANDIDATES_HELP),
    budget: float | None = typer.Option(None, "--budget", min=1.0, help=BUDGET_HELP),
    vote: bool | None = typer.Option(None, "--vote/--no-vote", help=VOTE_HELP),
) -> None:
    """Run one task headless; exit 0 only if it finished and verification passed."""
    from redline.agent.loop import AgentConfig
    from redline.agent.model_select import select_provider
    from redline.agent.session.runner import run_exec, run_parallel_exec

    if not task and not subtasks:
        raise typer.BadParameter("say what to do: TASK, or --task (repeatable)", param_hint="TASK")

    settings = _settings(
        root,
        approval=approval,
        sandbox=sandbox,
        edit_format=edit_format,
        candidates=candidates,
        budget=budget,
        vote=vote,
    )
    # an in-process engine decodes the sub-agents' requests in one batch
    at_once = max(parallel, len(subtasks), 1)
    chosen = select_provider(settings, model=model, provider=provider, parallel=at_once)
    config = AgentConfig(
        max_steps=max_steps,
        max_tokens=max_tokens,
        run_tests=not no_tests,
        edit_format=settings.edit_format,
        sandbox=settings.sandbox,
        sandbox_network=settings.sandbox_network,
        candidates=settings.candidates,
        candidate_budget=settings.budget,
        candidate_vote=settings.vote,
    )
    if parallel or subtasks:
        outcome = run_parallel_exec(
            task or "; ".join(subtasks),
            chosen,
            root,
            parallel=parallel or len(subtasks),
            subtasks=subtasks,
            approval=settings.approval,
            json_mode=json_mode,
            config=config,
            files=files,
        )
        _exit_with(outcome, json_mode)
    assert task is not None
    result = run_exec(
        task,
        chosen,
        root,
        approval=settings.approval,
        json_mode=json_mode,
        config=config,
        files=files,
    )
    _exit_with(result, json_mode)


def _exit_with(result: Any, json_mode: bool) -> NoReturn:
    """End the command with the run's exit code, saying why on a failure (unless JSON)."""
    if result.exit_code != 0 and not json_mode:
        typer.secho(f"redline: {result.status}: {result.summary}", err=True, fg="red")
    raise typer.Exit(result.exit_code)


def undo_command(
    n: int = typer.Argument(1, help="How many tasks to undo (newest first)."),
    root: Path = typer.Option(Path("."), "--root", "-C", help="Workspace folder."),
) -> None:
    """Restore the files the last N agent tasks changed, byte for byte."""
    from redline.agent.environment.checkpoints import Checkpoints

    for path, action in Checkpoints(root).undo(n):
        typer.echo(f"{action} {path}")


def log_command(
    session_id: str | None = typer.Argument(None, help="Show one session's events."),
) -> None:
    """List sessions, or print one session's events (JSON lines)."""
    import json
    import time

    from redline.agent.session.log import list_sessions, read_events

    if session_id:
        for event in read_events(session_id):
            if event.get("type") not in ("text_delta", "message"):
                typer.echo(json.dumps(event, default=str))
        return
    for s in list_sessions():
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.started)) if s.started else "?"
        typer.echo(f"{s.id}  {when}  {s.status:<20} {s.turns:>3} turns  {s.task[:60]}")


def _interactive(
    root: Path,
    model: str | None,
    provider: str | None,
    resume: str | None,
    *,
    approval: str | None = None,
    edit_format: str | None = None,
    sandbox: str | None = None,
) -> None:
    from rich.console import Console

    from redline.agent.loop import AgentConfig
    from redline.agent.model_select import select_provider
    from redline.agent.session.interactive import InteractiveSession
    from redline.agent.session.log import list_sessions, load_messages
    from redline.agent.session.render import HumanRenderer
    from redline.agent.session.runner import build_agent

    settings = _settings(root, approval=approval, sandbox=sandbox, edit_format=edit_format)
    console = Console(highlight=False)
    messages = None
    if resume is not None:
        resume = resume or (list_sessions()[-1].id if list_sessions() else "")
        messages = load_messages(resume)
        console.print(f"[dim]resumed {resume}: {len(messages)} messages[/]")
    chosen = select_provider(settings, model=model, provider=provider)
    config = AgentConfig(
        sandbox=settings.sandbox,
        sandbox_network=settings.sandbox_network,
        edit_format=settings.edit_format,
        candidates=settings.candidates,
        candidate_budget=settings.budget,
        candidate_vote=settings.vote,
    )
    agent, log = build_agent(
        chosen,
        root,
        approval=settings.approval,
        render=HumanRenderer(console),
        config=config,
        messages=messages,
    )

    def switch(spec: str):
        prov, _, name = spec.rpartition(":")
        return select_provider(settings, model=name, provider=prov or None)

    try:
        InteractiveSession(agent, console, switch_model=switch, read_line=console.input).loop()
    finally:
        log.close()


def resume_command(
    session_id: str = typer.Argument("", help="Session to resume (default: the latest)."),
    model: str | None = typer.Option(None, "--model", "-m"),
    provider: str | None = typer.Option(None, "--provider", "-p"),
    root: Path = typer.Option(Path("."), "--root", "-C"),
) -> None:
    """Continue a logged session interactively, with its conversation."""
    _interactive(root, model, provider, session_id)


def interactive_default(
    model: str | None = None,
    provider: str | None = None,
    approval: str | None = None,
    edit_format: str | None = None,
    root: Path = Path("."),
    sandbox: str | None = None,
) -> None:
    """The interactive session (``redline`` with no command; ``redline -m MODEL``)."""
    _interactive(
        root, model, provider, None, approval=approval, edit_format=edit_format, sandbox=sandbox
    )


def register(app: typer.Typer) -> None:
    """Add the agent's commands to the root app."""
    app.command("exec")(exec_command)
    app.command("undo")(undo_command)
    app.command("log")(log_command)
    app.command("resume")(resume_command)
