"""The issue's Bar, measured with a stock client: ``python -m redline.ide.bench_check``.

pygls's own ``LanguageClient`` (not written by redline) starts ``redline lsp``
over stdio and reports, in milliseconds: time until the server is ready (model
loaded), the inline completion for ``def fibonacci(n):\\n    `` (first, and
again after typing one more character, which reuses the KV cache), whether the
code action yields a ``WorkspaceEdit``, and whether an undefined name gets a
diagnostic. It prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

FIB = "def fibonacci(n):\n    "


def _command() -> list[str]:
    script = Path(sys.executable).parent / "redline"
    return [str(script), "lsp"] if script.is_file() else [sys.executable, "-m", "redline.ide"]


def _inline(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
    )


async def _wait(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def run(runs: int) -> dict[str, object]:
    client = LanguageClient("bench-check", "1")
    logs: list[str] = []
    diagnostics: dict[str, list[types.Diagnostic]] = {}
    client.feature(types.WINDOW_LOG_MESSAGE)(lambda p: logs.append(p.message))
    client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(
        lambda p: diagnostics.__setitem__(p.uri, list(p.diagnostics))
    )
    folder = Path(tempfile.mkdtemp(prefix="redline-bench-"))
    started = time.perf_counter()
    await client.start_io(*_command())
    await client.initialize_async(
        types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=folder.as_uri())
    )
    client.initialized(types.InitializedParams())
    ready = await _wait(lambda: any("ready" in m for m in logs), 120)
    out: dict[str, object] = {"ready_ms": (time.perf_counter() - started) * 1000, "ready": ready}
    uri = (folder / "fib.py").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=FIB)
        )
    )
    times, texts = [], []
    for i in range(runs):
        t0 = time.perf_counter()
        result = await client.text_document_inline_completion_async(_inline(uri, 1, 4))
        times.append((time.perf_counter() - t0) * 1000)
        items = result.items if isinstance(result, types.InlineCompletionList) else result or []
        texts.append(items[0].insert_text if items else "")
        if i == 0:
            out["first_text"] = texts[0]
    out["completion_ms"] = [round(t) for t in times]
    status = await client.protocol.send_request_async("redline/status", None)
    out["server_side_last"] = getattr(status, "last", None)
    out["non_empty"] = all(isinstance(t, str) and t.strip() for t in texts)

    # One more keystroke: the prompt grows by one character, the cache covers the rest.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=FIB + "i")],
        )
    )
    t0 = time.perf_counter()
    await client.text_document_inline_completion_async(_inline(uri, 1, 5))
    out["next_keystroke_ms"] = round((time.perf_counter() - t0) * 1000)

    source = "def area(r):\n    return 3.14 * r * r\n"
    edit_uri = (folder / "area.py").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=edit_uri, language_id="python", version=1, text=source
            )
        )
    )
    selection = types.Range(start=types.Position(0, 0), end=types.Position(2, 0))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=edit_uri),
            range=selection,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    command = actions[0] if actions else None
    t0 = time.perf_counter()
    if isinstance(command, types.Command):
        args = [{**command.arguments[0], "instruction": "Add a docstring."}]
        raw = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command.command, arguments=args)
        )
        edit = client.protocol._converter.structure(raw, types.WorkspaceEdit)
        out["workspace_edit"] = bool(edit.changes and edit.changes.get(edit_uri))
    else:
        out["workspace_edit"] = False
    out["edit_ms"] = round((time.perf_counter() - t0) * 1000)

    bad_uri = (folder / "bad.py").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=bad_uri, language_id="python", version=1, text="print(undefined_name)\n"
            )
        )
    )
    seen = await _wait(lambda: bool(diagnostics.get(bad_uri)), 30)
    out["diagnostic"] = diagnostics[bad_uri][0].message if seen else None
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="completions to time")
    args = parser.parse_args()
    out = asyncio.run(run(args.runs))
    for key, value in out.items():
        print(f"{key:>18}: {value!r}")


if __name__ == "__main__":
    main()
