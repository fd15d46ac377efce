"""The lock files pin every dependency pyproject.toml names, each with hashes, as pip installs them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def _pins(lock: Path) -> dict[str, str]:
    text = lock.read_text(encoding="utf-8")
    # name==version [; marker] \ then one or more --hash lines
    blocks = re.findall(r"^([A-Za-z0-9][\w.-]*)==([^\s;\\]+)[^\n\\]*((?:\\\n\s+--hash=sha256:[0-9a-f]{64}\s*)+)", text,
                        re.MULTILINE)
    pins = {_name(n): v for n, v, _ in blocks}
    listed = re.findall(r"^([A-Za-z0-9][\w.-]*)==", text, re.MULTILINE)
    unhashed = {_name(n) for n in listed} - set(pins)  # a package may be listed twice, for two markers
    assert not unhashed, f"{lock.name}: pinned without a hash: {sorted(unhashed)}"
    return pins


@pytest.mark.parametrize(("lock", "extras"), [("run.lock", ()), ("test.lock", ("test",))], ids=["run", "test"])
def test_lock_pins_every_dependency_with_hashes(lock: str, extras: tuple[str, ...]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"]) + [r for e in extras for r in project["optional-dependencies"][e]]
    pins = _pins(ROOT / "requirements" / lock)
    missing = sorted({_name(r) for r in wanted} - set(pins))
    assert not missing, f"requirements/{lock} lacks {missing}: run make lock"
    assert "setuptools" in pins, "the build backend of the editable install is locked too"
