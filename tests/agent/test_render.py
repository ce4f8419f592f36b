"""The human renderer: what a person sees of the agent's events."""

from __future__ import annotations

import io

from rich.console import Console

from redline.agent.session.render import HumanRenderer

DIFF = "--- a/inventory/pricing.py\n+++ b/inventory/pricing.py\n@@ -1 +1 @@\n-a\n+b\n"


def _screen() -> tuple[HumanRenderer, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120, highlight=False)
    return HumanRenderer(console), out


def test_a_reply_cut_at_its_stop_sequence_ends_its_line_before_the_diff() -> None:
    render, out = _screen()
    # A whole-file reply stopped at "\n```\n\n": the streamed text ends mid-line.
    render({"type": "text_delta", "turn": 1, "text": "    return round(subtotal - discount, 2)"})
    render({"type": "edit_applied", "turn": 1, "path": "inventory/pricing.py", "diff": DIFF})
    shown = out.getvalue()
    assert "discount, 2)\n" in shown
    assert "2)---" not in shown
    assert shown.index("--- a/inventory/pricing.py") > shown.index("discount, 2)\n")


def test_text_that_ends_its_line_gets_no_blank_line() -> None:
    render, out = _screen()
    render({"type": "text_delta", "turn": 1, "text": "done.\n"})
    render({"type": "edit_applied", "turn": 1, "path": "a.py", "diff": DIFF})
    assert "done.\n--- a/" in out.getvalue()
