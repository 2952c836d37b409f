"""Shipped cleaning rules (TOML data files), one per site family plus common.toml."""
