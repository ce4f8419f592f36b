"""The verifier catches what fast models get wrong, and only what an edit introduced."""

from __future__ import annotations

from pathlib import Path

from redline.agent.checks.checking import new_problems, related_tests, verify_changes
from redline.agent.checks.verify import Problem, check_source
from redline.agent.environment.workspace import Workspace


def _errors(problems: list[Problem]) -> list[str]:
    return [p.message for p in problems if p.severity == "error"]


def test_clean_source_has_no_errors() -> None:
    assert _errors(check_source("import os\n\nprint(os.getcwd())\n")) == []


def test_syntax_error_has_position() -> None:
    [problem] = check_source("def f(:\n    pass\n")
    assert problem.severity == "error" and problem.source == "syntax" and problem.line == 1


def test_undefined_name_and_unresolved_import() -> None:
    text = "import numpyy_does_not_exist\n\nprint(undefined_thing)\n"
    errors = _errors(check_source(text, root=Path.cwd()))
    assert any("undefined_thing" in e for e in errors)
    assert any("numpyy_does_not_exist" in e for e in errors)


def test_optional_import_in_try_is_not_an_error() -> None:
    text = "try:\n    import nope_not_here\nexcept ImportError:\n    nope_not_here = None\n"
    assert _errors(check_source(text, root=Path.cwd())) == []


def test_fabricated_local_api_is_caught(sample: Path) -> None:
    text = (
        "from inventory.pricing import order_total, apply_coupon\n"
        "from inventory.shipping import rate\n\n"
        "order_total([], discount_percent=5, currency='EUR')\n"
    )
    errors = _errors(check_source(text, filename="inventory/extra.py", root=sample))
    assert any(
        "'apply_coupon' is not defined in local module 'inventory.pricing'" in e for e in errors
    )
    assert any("inventory.shipping" in e for e in errors)
    assert any("no parameter named 'currency'" in e for e in errors)
    assert not any("discount_percent" in e for e in errors)


def test_check_source_accepts_a_path(sample: Path) -> None:
    path = sample / "inventory" / "pricing.py"
    assert _errors(check_source(path)) == []
    assert _errors(check_source(str(path))) == []


def test_ruff_findings_are_reported_with_codes(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["E", "F", "E711"]\n')
    problems = check_source("x = None\nif x == None:\n    pass\n", filename="a.py", root=tmp_path)
    assert any(p.source == "ruff" and p.code == "E711" for p in problems)


def test_only_new_problems_count() -> None:
    old = check_source("print(a)\n")
    new = check_source("\n\nprint(a)\nprint(b)\n")
    fresh = new_problems(old, new)
    assert [p.message for p in fresh] == ["undefined name 'b'"]


def test_related_tests_and_failing_verification(sample: Path) -> None:
    ws = Workspace(sample)
    assert related_tests(ws, ["inventory/pricing.py"]) == ["tests/test_pricing.py"]
    assert related_tests(ws, ["inventory/stock.py"]) == ["tests/test_stock.py"]
    result = verify_changes(ws, {"inventory/pricing.py": None})
    assert not result.passed and result.tests is not None and not result.tests.passed
    assert "test_discount_is_a_percentage" in result.report()
    path = sample / "inventory" / "pricing.py"
    before = path.read_text()
    path.write_text(before.replace("(1 - discount_percent)", "(1 - discount_percent / 100)"))
    result = verify_changes(ws, {"inventory/pricing.py": before})
    assert result.passed, result.report()


def test_new_syntax_error_fails_without_running_tests(sample: Path) -> None:
    path = sample / "inventory" / "stock.py"
    before = path.read_text()
    path.write_text(before + "\ndef broken(:\n")
    result = verify_changes(Workspace(sample), {"inventory/stock.py": before})
    assert not result.passed and result.tests is None
    assert result.errors[0].source == "syntax"
