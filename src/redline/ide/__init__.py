"""The IDE front door: ``redline lsp``, a Language Server (pygls).

Inline completion (``textDocument/inlineCompletion`` and ``textDocument/completion``)
on the embedded Gemma 3 270M by default, the "Edit with redline…" code action
through the agent's speculative rewrite and verifier, and diagnostics from the
agent's error-detection pass. Start with :func:`redline.ide.app.build_server`.
"""
