"""Passerelle verifier: the verification API (``verifier.app.create_app``) and its CLI."""
