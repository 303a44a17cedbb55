"""Entropy coder backends (filled in by the coders work)."""
