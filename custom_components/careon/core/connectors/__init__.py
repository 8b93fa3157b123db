"""Vendor connectors: clients and mappings into the store's canonical actions."""
