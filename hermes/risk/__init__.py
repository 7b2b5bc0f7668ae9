"""Risk classification for the approval gate: what a shell command or a file
write would do, as a level (none/low/medium/high/hard) and a reason."""

from hermes.risk.classify import classify_command, classify_write
from hermes.risk.model import Assessment, Level, Where

__all__ = ["Assessment", "Level", "Where", "classify_command", "classify_write"]
