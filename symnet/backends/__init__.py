"""Backends that run a compiled network faster than the scalar engine (optional extras)."""
