"""``uvicorn issuer.asgi:build --factory``: the app from the environment's settings."""

from __future__ import annotations

from fastapi import FastAPI

from issuer.app import create_app
from issuer.settings import IssuerSettings


def build() -> FastAPI:
    return create_app(IssuerSettings())
