"""Scheduled jobs: parse schedules, store jobs, and run them from the gateway."""
