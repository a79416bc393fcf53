"""The user's pages cite only what the repository holds (issue 28, item 1): every relative link in README.md,
CONTRIBUTING.md and docs/*.md resolves, none names a path outside the repository (such as ../shared), and no
tracked file cites DESIGN.md, which the repository does not hold (docs/design-facts.md has the facts)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.M)
OUTSIDE = re.compile(r"(?<![\w./-])\.\./(?:shared|[\w.-]+/)")  # a path that leaves the repository


def _pages():
    return [page for page in PAGES if page.exists()]


def _without_code(text: str) -> str:
    """The text outside fenced code blocks (a link example in a code block is no link)."""
    return re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.M | re.S)


def _anchors(page: Path) -> set:
    """GitHub's anchors of *page*'s headings."""
    out = set()
    for line in _without_code(page.read_text(encoding="utf-8")).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def links(page: Path):
    text = _without_code(page.read_text(encoding="utf-8"))
    return [m.group(1) for m in LINK.finditer(text)] + [m.group(1) for m in REFERENCE.finditer(text)]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        where = (page.parent / unquote(path)).resolve() if path else page
        if not where.exists():
            broken.append(f"{target}: no such file")
            continue
        try:
            where.relative_to(ROOT)
        except ValueError:
            broken.append(f"{target}: outside the repository")
            continue
        if anchor and where.suffix == ".md" and anchor.lower() not in _anchors(where):
            broken.append(f"{target}: no heading #{anchor} in {where.relative_to(ROOT)}")
    assert not broken, broken


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_user_page_names_a_path_outside_the_repository(page):
    found = [line.strip() for line in page.read_text(encoding="utf-8").splitlines() if OUTSIDE.search(line)]
    assert not found, found


def test_no_file_cites_a_design_md_the_repository_does_not_hold():
    if (ROOT / "DESIGN.md").exists():
        pytest.skip("the repository holds a DESIGN.md")
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=False).stdout
    if not tracked:
        pytest.skip("not a git checkout")
    citing = []
    for name in tracked.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file() or path.resolve() == Path(__file__).resolve():
            continue
        try:
            if "DESIGN.md" in path.read_text(encoding="utf-8"):
                citing.append(name)
        except (UnicodeDecodeError, OSError):
            continue
    assert not citing, citing


def test_the_checker_finds_a_broken_link(tmp_path):
    """The link checker itself can fail."""
    page = tmp_path / "p.md"
    page.write_text("see [x](missing.md) and [y](https://example.org) and\n```\n[z](nope.md)\n```\n")
    assert links(page) == ["missing.md", "https://example.org"]
    assert OUTSIDE.search("beside the clone: `../shared/htcondor`")
