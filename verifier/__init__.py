"""Passerelle verifier (service arrives with its own issue)."""
