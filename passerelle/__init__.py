"""Passerelle: portable, verifiable skills and qualification credentials.

The core package is pure: formats, cryptography, status lists, trust lists, QR and the CLI.
It never imports the services (``issuer``, ``verifier``, ``wallet``).
"""

__version__ = "0.1.0"
