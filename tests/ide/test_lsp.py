"""``redline lsp`` driven by a stock LSP client (pytest-lsp) over stdio, real models.

One server per module, so each embedded model loads once. Completions and edits
run on the default model, Qwen2.5-Coder 0.5B (FIM for completions; edits through
the agent's rewrite path).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import pytest_lsp
from lspclient import server_command, server_env
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

FIB = "def fibonacci(n):\n    "


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp-ws")


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=server_command(),
        server_env=server_env(Path("/tmp/redline-lsp-test")),
    ),
)
async def client(lsp_client: LanguageClient, workspace: Path):
    applied: list[types.ApplyWorkspaceEditParams] = []

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    lsp_client.applied = applied  # type: ignore[attr-defined]
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                workspace=types.WorkspaceClientCapabilities(apply_edit=True),
                window=types.WindowClientCapabilities(),
            ),
            root_uri=workspace.as_uri(),
            initialization_options={"editMaxTokens": 384, "diagnosticsDebounceMs": 50},
        )
    )
    yield
    await lsp_client.shutdown_session()


def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)
        )
    )
    return uri


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(types.InlineCompletionTriggerKind.Automatic),
        text_document=types.TextDocumentIdentifier(uri),
        position=types.Position(line, character),
    )


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP edits (ASCII text) the way an editor does: from the end backwards."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(p: types.Position) -> int:
        return starts[p.line] + p.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        a, b = offset(edit.range.start), offset(edit.range.end)
        text = text[:a] + edit.new_text + text[b:]
    return text


async def test_inline_completion_continues_fibonacci(client: LanguageClient, workspace: Path):
    uri = open_doc(client, workspace / "fib.py", FIB)
    await wait_idle(client)  # the model loads (warm-up) right after initialization
    started = time.perf_counter()
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 4))
    elapsed = time.perf_counter() - started
    assert result is not None
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert len(items) == 1
    text = items[0].insert_text
    assert isinstance(text, str) and text.strip()
    assert items[0].range == types.Range(types.Position(1, 4), types.Position(1, 4))
    # A body, not a new top-level statement: the boundary cuts at the first dedent.
    assert all(not line.strip() or line.startswith("    ") for line in text.split("\n")[1:])
    print(f"\ninline completion in {elapsed * 1000:.0f} ms: {text!r}")


AREA_PREFIX = 'def area(width, height):\n    """Return the area of a rectangle."""\n    '
AREA_SUFFIX = "\n\n\ndef perimeter(width, height):\n    return 2 * (width + height)\n"


async def test_fim_completion_fits_between_prefix_and_suffix(
    client: LanguageClient, workspace: Path
):
    """Fill-in-the-middle on the default coder model: the inserted text completes the
    body, does not repeat the code after the cursor, and the file parses with it."""
    uri = open_doc(client, workspace / "shapes.py", AREA_PREFIX + AREA_SUFFIX)
    await wait_idle(client)
    timings = []
    for _ in range(2):  # the second request is warm (the prompt is in the KV cache)
        started = time.perf_counter()
        result = await client.text_document_inline_completion_async(inline_params(uri, 2, 4))
        timings.append(time.perf_counter() - started)
    assert result is not None
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    text = items[0].insert_text
    assert isinstance(text, str) and text.strip()
    assert "def perimeter" not in text
    assert "width" in text and "height" in text
    compile(AREA_PREFIX + text + AREA_SUFFIX, "shapes.py", "exec")
    print(f"\nFIM completion cold {timings[0]:.2f} s, warm {timings[1]:.2f} s: {text!r}")


async def test_completion_items_for_clients_without_inline(client: LanguageClient, workspace):
    uri = open_doc(client, workspace / "fib2.py", FIB)
    result = await client.text_document_completion_async(
        types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(1, 4))
    )
    assert isinstance(result, types.CompletionList)
    assert len(result.items) == 1
    item = result.items[0]
    assert isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.new_text.strip()
    assert item.text_edit.range.start == types.Position(1, 4)


async def status(client: LanguageClient) -> dict:
    """The server's counters (pygls hands unknown results back as named tuples)."""
    result = await client.protocol.send_request_async("redline/status", None)
    return result if isinstance(result, dict) else result._asdict()


async def wait_idle(client: LanguageClient, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        current = await status(client)
        if not current["busy"] or time.monotonic() > deadline:
            return current
        await asyncio.sleep(0.05)


async def test_cancel_request_stops_generation(client: LanguageClient, workspace: Path):
    uri = open_doc(client, workspace / "long.py", "# a long list of primes\nPRIMES = [\n    ")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"redline": {"maxTokens": 2000, "deadlineMs": 0}}
        )
    )
    before = await status(client)
    msg_id = "cancel-me"
    pending = asyncio.ensure_future(  # pytest-lsp sends only once awaited: start it now
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 2, 4), msg_id=msg_id
        )
    )
    await asyncio.sleep(0.5)  # past the debounce: the model is generating
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as info:
        await pending
    assert info.value.code == types.LSPErrorCodes.RequestCancelled
    after = await wait_idle(client)
    assert after["cancelled"] == before["cancelled"] + 1
    assert not after["busy"]  # the worker stopped long before 2000 tokens
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"redline": {"maxTokens": 48, "deadlineMs": 1500}}
        )
    )
    # The server is still serving.
    result = await client.text_document_inline_completion_async(inline_params(uri, 2, 4))
    assert result is not None


async def test_newer_request_supersedes_older(client: LanguageClient, workspace: Path):
    uri = open_doc(client, workspace / "sup.py", FIB)
    before = await status(client)
    first = client.text_document_inline_completion_async(inline_params(uri, 1, 4))
    second = client.text_document_inline_completion_async(inline_params(uri, 1, 4))
    r1, r2 = await asyncio.gather(first, second)
    assert r1 is not None and r2 is not None
    assert list(r1.items) == []  # superseded during its debounce
    assert r2.items and r2.items[0].insert_text.strip()
    after = await status(client)
    assert after["superseded"] == before["superseded"] + 1


SOURCE = "import math\n\n\ndef area(r):\n    return math.pi * r * r\n\n\nprint(area(2))\n"


async def test_code_action_returns_valid_workspace_edit(client: LanguageClient, workspace: Path):
    uri = open_doc(client, workspace / "shapes.py", SOURCE)
    selection = types.Range(types.Position(3, 0), types.Position(5, 0))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri), selection, types.CodeActionContext(diagnostics=[])
        )
    )
    assert actions and len(actions) == 1
    # This client declares no code-action literal support: it gets a bare Command.
    command = actions[0]
    assert isinstance(command, types.Command)
    assert command.title.startswith("Edit with redline")
    args = list(command.arguments or [])
    args[0] = {**args[0], "instruction": "Add a docstring to the function."}
    before_messages = len(client.messages)
    raw = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=args)
    )
    edit = client.protocol._converter.structure(raw, types.WorkspaceEdit)
    assert edit.changes is not None and list(edit.changes) == [uri]
    [text_edit] = edit.changes[uri]
    assert text_edit.range == selection
    new = apply_text_edits(SOURCE, [text_edit])
    # Everything outside the selection is untouched; the selection's shape is kept.
    assert new.startswith("import math\n\n\n")
    assert new.endswith("\n\nprint(area(2))\n")
    assert text_edit.new_text.endswith("\n")
    # The verification result arrives as a message; the edit was also sent for applying.
    await wait_for(lambda: len(client.messages) > before_messages)
    assert client.messages[-1].message.startswith("redline: ")
    await wait_for(lambda: len(client.applied) > 0)  # type: ignore[attr-defined]
    assert list(client.applied[-1].edit.changes[uri]) == [text_edit]  # type: ignore[attr-defined]
    print(f"\nedit: {text_edit.new_text!r}\n{client.messages[-1].message}")


async def wait_for(condition, timeout_s: float = 30.0, what=lambda: None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out; last seen: {what()!r}"
        await asyncio.sleep(0.02)


async def test_diagnostics_appear_and_clear(client: LanguageClient, workspace: Path):
    bad = "def greet(name):\n    return f'hi {nmae}'\n"
    uri = open_doc(client, workspace / "greet.py", bad)
    await wait_for(lambda: bool(client.diagnostics.get(uri)))
    [diag] = client.diagnostics[uri]
    assert "nmae" in diag.message
    assert diag.severity == types.DiagnosticSeverity.Error
    assert diag.range.start.line == 1
    fixed = "def greet(name):\n    return f'hi {name}'\n"
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            [types.TextDocumentContentChangeWholeDocument(text=fixed)],
        )
    )
    await wait_for(
        lambda: len(client.diagnostics.get(uri, [1])) == 0, what=lambda: client.diagnostics.get(uri)
    )


async def test_diagnostics_for_syntax_error(client: LanguageClient, workspace: Path):
    uri = open_doc(client, workspace / "broken.py", "def f(:\n    pass\n")
    await wait_for(lambda: bool(client.diagnostics.get(uri)))
    assert client.diagnostics[uri][0].range.start.line == 0


async def test_bad_settings_are_logged_not_fatal(client: LanguageClient, workspace: Path):
    before = len(client.log_messages)
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"redline": {"maxTokens": "many"}})
    )
    await wait_for(lambda: len(client.log_messages) > before)
    assert any("maxTokens" in m.message or "max_tokens" in m.message for m in client.log_messages)
    assert (await status(client))["completions"] >= 1
