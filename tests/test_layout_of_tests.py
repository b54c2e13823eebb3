"""Test modules must have unique basenames: pytest's default import mode cannot hold two
tests/**/test_x.py with the same name (the second one errors at collection in a fresh clone)."""
from collections import Counter
from pathlib import Path


def test_test_module_basenames_are_unique():
    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []
