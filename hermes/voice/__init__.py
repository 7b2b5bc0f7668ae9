"""Voice: speech to text for the voice notes users send, text to speech for the
replies of chats in `/voice on|only` mode.

`service.Voice` is what the gateway and the CLI use; the providers behind it are
one module each (`stt_*.py`, `tts_*.py`), chosen by `voice.stt.provider` and
`voice.tts.provider` (settings.py). Nothing here knows about platforms or the
gateway."""
