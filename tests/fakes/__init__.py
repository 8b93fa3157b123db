"""Fake vendor servers on 127.0.0.1 speaking the vendors' wire formats."""
