"""Shipped weights of s2lic models (data only): see manifest.toml."""
