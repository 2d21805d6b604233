"""The rulebook (rules/*.toml loaded and checked) and the durable_rules adapter that fires it.

``engine`` is the only module that imports durable_rules.
"""
