"""Tests of the CareOn integration."""
