"""Passerelle wallet (service arrives with its own issue)."""
