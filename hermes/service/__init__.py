"""Running the gateway in the background: `hermes gateway install/start/stop/status/list`.

`units` writes the text of a systemd unit or a launchd plist for a profile (pure);
`manager` finds which service manager is usable here and talks to it, and runs
the gateway as a detached process where there is none (containers, WSL, CI).
The command itself is hermes.cli.service_cmd.
"""
