"""The docs say what the code does: every key read is documented, the README's
figures are the records', and the README stays short."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from redline import config
from redline.bench import records, report
from redline.ide.settings import IdeSettings
from redline.providers.presets import PRESETS
from redline.providers.registry import ROUTER_KEYS, TABLE_KEYS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _documented(page: str) -> set[str]:
    """Every `code span` on a docs page."""
    return set(re.findall(r"`([^`\n]+)`", (DOCS / page).read_text(encoding="utf-8")))


def _env_names_in_source() -> set[str]:
    """Every REDLINE_* name the source mentions (read, set or passed on)."""
    names: set[str] = set()
    for path in (ROOT / "src" / "redline").rglob("*.py"):
        names |= set(re.findall(r"\bREDLINE_[A-Z][A-Z0-9_]*\b", path.read_text(encoding="utf-8")))
    return names


def code_config_keys() -> set[str]:
    """The keys the code reads, parsed from the code itself."""
    settings = {f.name for f in dataclasses.fields(config.Settings)} - {"raw", "sources"}
    keys = settings | set(config._ENV_KEYS) | TABLE_KEYS | ROUTER_KEYS
    keys |= {preset.key_env for preset in PRESETS.values()}
    return keys | _env_names_in_source()


def test_the_source_has_the_keys_the_test_looks_for() -> None:
    """Guard against a parser that finds nothing (and so checks nothing)."""
    keys = code_config_keys()
    assert {"model", "sandbox_network", "REDLINE_TIE_MARGIN", "health_ttl_s"} <= keys
    assert {"api_key_env", "GROQ_API_KEY", "REDLINE_RECORDS_DIR"} <= keys


def test_every_config_key_the_code_reads_is_in_the_config_reference() -> None:
    missing = code_config_keys() - _documented("config.md")
    assert not missing, f"add these to docs/config.md: {sorted(missing)}"


def test_every_lsp_setting_is_on_the_editors_page() -> None:
    camel = {
        re.sub(r"_([a-z])", lambda m: m.group(1).upper(), f.name)
        for f in dataclasses.fields(IdeSettings)
    }
    missing = camel - _documented("editors.md")
    assert not missing, f"add these to docs/editors.md: {sorted(missing)}"


def test_the_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines; the depth belongs in docs/"


def test_the_readme_headline_is_what_bench_report_renders_from_the_records() -> None:
    committed = records.load(ROOT / "benchmarks" / "results")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert report.current_headline(readme) == report.render_headline(committed), (
        "README's headline table differs from the records: run `redline bench report`"
    )


def test_the_results_page_is_what_bench_report_renders_from_the_records() -> None:
    committed = records.load(ROOT / "benchmarks" / "results")
    page = (DOCS / "benchmarks" / "results.md").read_text(encoding="utf-8")
    assert page == report.render_docs_page(committed), "run `redline bench report`"


def test_every_docs_page_is_in_the_site_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    missing = {p for p in pages if p not in nav}
    assert not missing, f"add to mkdocs.yml's nav: {sorted(missing)}"


def test_the_readme_links_to_files_that_exist() -> None:
    """mkdocs checks the site's links; the README is outside it, so it is checked here."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if "://" not in t]
    assert local, "the README links to its docs"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"
