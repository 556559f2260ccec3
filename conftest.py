"""pytest configuration shared by the tests and the doctests in symnet/."""

from __future__ import annotations

import importlib.util

collect_ignore = ["setup.py", "bench", "examples"]
# Modules of optional extras are only doctested where the extra is installed.
if importlib.util.find_spec("numpy") is None:
    collect_ignore_glob = ["symnet/backends/*"]
