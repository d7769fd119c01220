"""Home hub for hospital digital home follow-up."""

__version__ = "0.1.0"
