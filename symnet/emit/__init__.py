"""Emitters: each is one walk over a compiled Program (text, SymPy, LaTeX, Python, graphs)."""
