"""docs/architecture.md lists every module of the packages, and only modules that exist.

The module table is the map a newcomer reads first; a module added or removed without the map
changing fails here. In the table's second column every backticked lower-case name is a module
of the row's package (``base``), and a backticked name ending in ``/`` a folder (``routers/``,
which has a row of its own when it holds modules); other words are free text.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"
PACKAGES = ("inference", "embeddings", "generation", "ingest", "search", "web", "web/routers")
_ROW = re.compile(r"^\|\s*`(?P<package>[a-z_/]+)/`\s*\|(?P<modules>.*)\|\s*$")
_NAME = re.compile(r"`([a-z_][a-z0-9_]*/?)`")


def documented_modules() -> dict[str, set[str]]:
    """Package folder → the module names its row of the table names."""
    rows: dict[str, set[str]] = {}
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match is None or match["package"] not in PACKAGES:
            continue
        names = {name for name in _NAME.findall(match["modules"]) if not name.endswith("/")}
        rows.setdefault(match["package"], set()).update(names)
    return rows


def modules_on_disk(package: str) -> set[str]:
    return {path.stem for path in (REPO_ROOT / package).glob("*.py") if path.stem != "__init__"}


def test_every_module_is_on_the_map_and_the_map_names_no_other() -> None:
    documented = documented_modules()
    assert set(documented) == set(PACKAGES), "docs/architecture.md needs a row per package"
    for package in PACKAGES:
        on_disk = modules_on_disk(package)
        missing = sorted(on_disk - documented[package])
        gone = sorted(documented[package] - on_disk)
        assert not missing, f"{package}/ modules not in docs/architecture.md: {missing}"
        assert not gone, f"docs/architecture.md names {package}/ modules that do not exist: {gone}"
