"""Risk classification for the approval gate: what a shell command, a file write
or a file read would do, as a level (none/low/medium/high/hard) and a reason."""

from hermes.risk.classify import classify_command, classify_read, classify_write
from hermes.risk.model import Assessment, Level, Probe, Where

__all__ = [
    "Assessment",
    "Level",
    "Probe",
    "Where",
    "classify_command",
    "classify_read",
    "classify_write",
]
