"""The tools the agent calls; registry.default_tools() assembles them."""
