"""Parlay: meeting scheduling and video meetings inside chat conversations."""

__version__ = "0.1.0"
