"""mjv: declarative, idempotent batch orchestrator for Midjourney video campaigns."""

__version__ = "0.1.0"
