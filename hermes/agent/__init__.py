"""The agent: the tool-calling loop, the system prompt, context compression."""
