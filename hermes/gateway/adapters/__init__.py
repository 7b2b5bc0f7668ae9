"""Platform adapters: one file each, all implementing adapters.base.Adapter."""
