"""Reusable network blocks (leaf modules: they import nothing else from s2lic)."""

__all__: list[str] = []
