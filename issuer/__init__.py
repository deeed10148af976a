"""Passerelle issuer (service arrives with its own issue)."""
