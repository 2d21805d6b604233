"""LLM Hosting Advisor: managed API, self-hosted or hybrid, decided by rules and priced by sourced TCO."""

__version__ = "0.1.0"
