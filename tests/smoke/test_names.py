#!/usr/bin/python3
"""Fails when a Catch2 TEST_CASE name holds a ';': catch_discover_tests hands the names to CTest
as a list, which splits on ';', so such a test is registered under a name that matches nothing
and passes under ctest without running. usage: test_names.py TESTS_DIR"""

import pathlib
import re
import sys

NAME = re.compile(r'TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)')
PIECE = re.compile(r'"((?:[^"\\]|\\.)*)"')

bad = []
root = pathlib.Path(sys.argv[1])
for source in sorted(root.rglob("*.cpp")):
    text = source.read_text(encoding="utf-8")
    for match in NAME.finditer(text):
        name = "".join(PIECE.findall(match.group(1)))
        if ";" in name:
            line = text.count("\n", 0, match.start()) + 1
            bad.append(f"{source.relative_to(root)}:{line}: {name}")
for entry in bad:
    print(f"a ';' in a test name (CTest splits on it; the test would never run): {entry}")
print(f"{len(bad)} test name(s) with a ';'")
sys.exit(1 if bad else 0)
