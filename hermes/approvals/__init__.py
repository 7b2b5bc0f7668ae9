"""Approvals: the gate every risky tool call passes (gate.py); the gateway's
stored requests live in hermes/gateway/approvals.py."""
