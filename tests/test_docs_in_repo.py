"""Sources cited in the code live in the repository (issue 14 part 6).

Module docstrings and comments cite ``docs/physiology.md``, ``docs/protocols.md``
and the registry of real recordings in ``datasets/README.md``, never a path
outside the repository (``../shared/...``): an installed or cloned copy must
carry its own references.
"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"\.\./shared|shared/reference")
#: Files still citing outside the repository, each to be fixed by its owner
#: (the test says when an entry can go).
PENDING: set = set()


def _sources():
    for p in sorted((ROOT / "emgpipe").rglob("*.py")):
        yield p.relative_to(ROOT).as_posix(), p.read_text(encoding="utf-8")
    for name in ("hardware.md", "firmware_bridge/protocol.md", "firmware_bridge/README.md"):
        p = ROOT / name
        if p.is_file():
            yield name, p.read_text(encoding="utf-8")


def test_no_citation_outside_the_repository():
    bad = []
    for name, text in _sources():
        hits = [i + 1 for i, line in enumerate(text.splitlines()) if OUTSIDE.search(line)]
        if name in PENDING:
            assert hits, f"{name} is clean now: remove it from PENDING"
        elif hits:
            bad.append(f"{name}:{hits[0]}")
    assert not bad, f"cites a path outside the repository: {', '.join(bad)}"


def test_cited_docs_exist():
    cited = set()
    for _, text in _sources():
        cited.update(re.findall(r"\bdocs/([\w.-]+\.md)", text))
        cited.update(f for f in re.findall(r"\b(physiology\.md|protocols\.md)\b", text))
    assert cited, "no citation found (the pattern is wrong)"
    missing = sorted(c for c in cited if not (ROOT / "docs" / c).is_file())
    assert not missing, f"cited but not in docs/: {missing}"
