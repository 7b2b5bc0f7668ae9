"""Hermes: a persistent personal AI agent that runs on a machine you own."""

__version__ = "0.1.0"
