"""The LSP methods redline answers, each a thin handler over the server's state."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from redline.errors import RedlineError
from redline.ide.editing import (
    PRESET_INSTRUCTIONS,
    EditOutcome,
    introduced_problems,
    is_python,
    rewrite_selection,
)
from redline.ide.server import (
    EDIT_COMMAND,
    RedlineLanguageServer,
    path_of,
    request_failed,
    require,
)

CONFIG_SECTION = "redline"


def register_features(ls: RedlineLanguageServer) -> None:
    """Attach every handler to ``ls``."""
    _lifecycle(ls)
    _documents(ls)
    _completion(ls)
    _edits(ls)


def _lifecycle(ls: RedlineLanguageServer) -> None:
    @ls.feature(types.INITIALIZE)
    def initialize(ls: RedlineLanguageServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options)
        try:
            ls.get_backends()
        except RedlineError as exc:
            ls.log_error(f"redline: configuration problem: {exc.message}")

    @ls.feature(types.INITIALIZED)
    async def initialized(ls: RedlineLanguageServer, params: types.InitializedParams) -> None:
        await pull_configuration(ls)
        if ls.settings.warmup:
            asyncio.get_running_loop().create_task(warm_up(ls))

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: RedlineLanguageServer, params: types.DidChangeConfigurationParams
    ) -> None:
        ls.apply_settings(params.settings)
        await pull_configuration(ls)

    @ls.feature("redline/status")
    def status(ls: RedlineLanguageServer, params: Any) -> dict[str, Any]:
        """Counters for tests and troubleshooting (not part of LSP)."""
        return ls.status()

    @ls.feature(types.SHUTDOWN)
    def shutdown(ls: RedlineLanguageServer, params: Any) -> None:
        ls.supersede.take().set()  # stop whatever generation is running
        ls.worker.shutdown()


async def pull_configuration(ls: RedlineLanguageServer) -> None:
    """Ask the client for the ``redline`` section when it supports workspace/configuration."""
    caps = ls.client_capabilities.workspace
    if caps is None or not caps.configuration:
        return
    try:
        items = [types.ConfigurationItem(section=CONFIG_SECTION)]
        result = await ls.workspace_configuration_async(types.ConfigurationParams(items=items))
    except Exception as exc:  # the client failed to answer: keep what we have
        ls.log_error(f"redline: workspace/configuration failed: {exc}")
        return
    if result:
        ls.apply_settings(result[0])


async def warm_up(ls: RedlineLanguageServer) -> None:
    cancel = threading.Event()
    try:
        backends = ls.get_backends()
        await ls.worker.run(backends.warm_up, ls.settings, ls.log_info, cancel=cancel)
    except Exception as exc:  # reported, and the first completion will say it again
        ls.log_error(f"redline: could not load the completion model: {exc}")


def _documents(ls: RedlineLanguageServer) -> None:
    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: RedlineLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule_diagnostics(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: RedlineLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule_diagnostics(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: RedlineLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.schedule_diagnostics(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: RedlineLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        if is_python(path_of(params.text_document.uri)):
            ls.diagnostics.forget(params.text_document.uri)


def _completion(ls: RedlineLanguageServer) -> None:
    @ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: RedlineLanguageServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        text = await _safe_complete(ls, params.text_document.uri, params.position)
        if not text:
            return types.InlineCompletionList(items=[])
        here = types.Range(params.position, params.position)
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text=text, range=here)]
        )

    @ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[]))
    async def completion(
        ls: RedlineLanguageServer, params: types.CompletionParams
    ) -> types.CompletionList:
        """For clients without inline completion: one item holding the whole suggestion."""
        text = await _safe_complete(ls, params.text_document.uri, params.position)
        if not text:
            return types.CompletionList(is_incomplete=True, items=[])
        first = text.strip().split("\n", 1)[0]
        here = types.Range(params.position, params.position)
        item = types.CompletionItem(
            label=first[:60] or "redline",
            kind=types.CompletionItemKind.Snippet,
            detail="redline",
            documentation=text,
            text_edit=types.TextEdit(here, text),
            insert_text_format=types.InsertTextFormat.PlainText,
            filter_text="",
            sort_text="0",
            preselect=True,
        )
        return types.CompletionList(is_incomplete=True, items=[item])


async def _safe_complete(ls: RedlineLanguageServer, uri: str, position: types.Position) -> str:
    """A completion, or '' with a log line when the model fails (typing must go on)."""
    try:
        return await ls.complete(uri, position)
    except asyncio.CancelledError:
        raise
    except RedlineError as exc:
        ls.log_error(f"redline: completion failed: {exc.message}")
    except Exception as exc:
        ls.log_error(f"redline: completion failed: {type(exc).__name__}: {exc}")
    return ""


def _edits(ls: RedlineLanguageServer) -> None:
    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite]),
    )
    def code_action(
        ls: RedlineLanguageServer, params: types.CodeActionParams
    ) -> list[types.CodeAction | types.Command]:
        """One action on a non-empty selection; it runs EDIT_COMMAND (which needs the
        instruction). Clients without code-action literal support get a bare Command."""
        r, only = params.range, params.context.only
        if r.start == r.end or (only and not any(_wants_rewrite(k) for k in only)):
            return []
        arguments = [
            {"uri": params.text_document.uri, "range": ls.protocol._converter.unstructure(r)}
        ]
        title = "Edit with redline…"
        command = types.Command(title=title, command=EDIT_COMMAND, arguments=arguments)
        if not _literal_support(ls):
            return [command]
        kind = types.CodeActionKind.RefactorRewrite
        return [types.CodeAction(title=title, kind=kind, command=command)]

    @ls.command(EDIT_COMMAND)
    async def edit_selection(ls: RedlineLanguageServer, *args: Any) -> Any:
        uri, rng, instruction = _edit_arguments(ls, args)
        if not instruction:
            instruction = await _ask_instruction(ls)
            if not instruction:
                return None
        doc = ls.workspace.get_text_document(uri)
        source = doc.source
        start, end = doc.offset_at_position(rng.start), doc.offset_at_position(rng.end)
        require(start < end, "the range is empty: select the code to edit")
        outcome = await _run_edit(ls, uri, source, start, end, instruction)
        edit = types.WorkspaceEdit(changes={uri: [types.TextEdit(rng, outcome.new_text)]})
        ls.show(
            outcome.summary(),
            types.MessageType.Warning if outcome.introduced else types.MessageType.Info,
        )
        if _client_applies_edits(ls) and _apply_requested(args):
            asyncio.get_running_loop().create_task(_apply(ls, edit))
        return ls.protocol._converter.unstructure(edit)


def _edit_arguments(
    ls: RedlineLanguageServer, args: tuple[Any, ...]
) -> tuple[str, types.Range, str]:
    """(uri, range, instruction) from ``[{uri, range, instruction}]`` or ``[uri, range, instr]``."""
    if len(args) == 1 and isinstance(args[0], dict):
        data = args[0]
        uri, raw_range, instruction = (
            data.get("uri"),
            data.get("range"),
            data.get("instruction", ""),
        )
    else:
        require(2 <= len(args) <= 3, f"{EDIT_COMMAND} takes [uri, range, instruction?]")
        uri, raw_range = args[0], args[1]
        instruction = args[2] if len(args) == 3 else ""
    require(isinstance(uri, str) and bool(uri), "'uri' must be a document URI")
    require(isinstance(instruction, str), "'instruction' must be a string")
    try:
        rng = ls.protocol._converter.structure(raw_range, types.Range)
    except Exception as exc:
        raise JsonRpcInvalidParams(f"'range' is not an LSP Range: {exc}") from None
    return uri, rng, instruction.strip()


def _wants_rewrite(kind: str) -> bool:
    return types.CodeActionKind.RefactorRewrite.value.startswith(kind)


def _literal_support(ls: RedlineLanguageServer) -> bool:
    doc = ls.client_capabilities.text_document
    action = doc.code_action if doc else None
    return bool(action and action.code_action_literal_support)


def _apply_requested(args: tuple[Any, ...]) -> bool:
    return not (len(args) == 1 and isinstance(args[0], dict) and args[0].get("apply") is False)


def _client_applies_edits(ls: RedlineLanguageServer) -> bool:
    caps = ls.client_capabilities.workspace
    return bool(caps and caps.apply_edit)


async def _apply(ls: RedlineLanguageServer, edit: types.WorkspaceEdit) -> None:
    try:
        result = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label="Edit with redline")
        )
        if not result.applied:
            ls.log_error(f"redline: the editor did not apply the edit: {result.failure_reason}")
    except Exception as exc:
        ls.log_error(f"redline: workspace/applyEdit failed: {exc}")


async def _ask_instruction(ls: RedlineLanguageServer) -> str:
    """No instruction given: offer presets with window/showMessageRequest."""
    window = ls.client_capabilities.window
    if window is None or window.show_message is None:
        raise JsonRpcInvalidParams(f"{EDIT_COMMAND} needs an 'instruction' argument")
    actions = [types.MessageActionItem(title=title) for title in PRESET_INSTRUCTIONS]
    params = types.ShowMessageRequestParams(
        type=types.MessageType.Info,
        message="redline: how should the selection change?",
        actions=actions,
    )
    chosen = await ls.window_show_message_request_async(params)
    return chosen.title if chosen else ""


async def _run_edit(
    ls: RedlineLanguageServer, uri: str, source: str, start: int, end: int, instruction: str
) -> EditOutcome:
    settings, path = ls.settings, path_of(uri)
    cancel = threading.Event()

    def work() -> EditOutcome:
        provider = ls.get_backends().edit_provider(settings)
        new_text, finish = rewrite_selection(
            provider,
            instruction,
            source[start:end],
            path=path.rsplit("/", 1)[-1],
            max_tokens=settings.edit_max_tokens,
            cancel=cancel,
        )
        outcome = EditOutcome(new_text, finish_reason=finish)
        if is_python(path):
            after = source[:start] + new_text + source[end:]
            outcome.introduced = introduced_problems(source, after, path=path)
            outcome.checked = True
        return outcome

    try:
        return await ls.worker.run(work, cancel=cancel)
    except RedlineError as exc:
        ls.show(f"redline: edit failed: {exc.message}", types.MessageType.Error)
        ls.log_error(f"redline: edit failed: {exc.message}")
        raise request_failed(exc.message) from None
