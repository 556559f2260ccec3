"""``python -m symnet``: the command line."""

from .cli import main

raise SystemExit(main())
