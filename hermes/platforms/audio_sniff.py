"""What kind of audio a file holds, from its first bytes (pure).

Voice notes reach bridges with unreliable names and content types: Signal's Android
app sends AAC (ADTS) with no file name, bridges pass `application/octet-stream`.
The container's magic bytes say what it is, whatever the label.
"""

from __future__ import annotations

HEAD = 64  # bytes enough to recognise every format below


def audio_mime(head: bytes) -> str | None:
    """The audio MIME type of a file starting with HEAD, or None when it is not audio
    this recognises (ADTS AAC, MP4/M4A audio, Ogg, AMR, MP3, WAV, FLAC, WebM/Matroska)."""
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # ADTS: 0xFFF1 / 0xFFF9
        return "audio/aac"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"mp42", b"isom", b"3gp4", b"3gp5", b"3gp6", b"dash"):
            return "audio/mp4"
        return None  # an MP4 video (qt, avc1 ...) is not a voice note
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR-WB"):
        return "audio/amr-wb"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "audio/mpeg"  # an MPEG audio frame (0xFFFB, 0xFFF3, ...): layer bits set
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:HEAD]:
        return "audio/webm"
    return None


EXTENSIONS = {
    "audio/aac": "aac",
    "audio/mp4": "m4a",
    "audio/ogg": "ogg",
    "audio/amr": "amr",
    "audio/amr-wb": "awb",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/flac": "flac",
    "audio/webm": "webm",
}
