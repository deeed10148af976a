"""``uvicorn issuer.asgi:build --factory``: the app from the environment's settings."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from issuer.app import create_app
from issuer.settings import IssuerSettings


def build() -> FastAPI:
    """The app for the ``ISSUER_*`` environment, in a worker process.

    What the worker has built by then (the modules, the app) lives as long as it does:
    ``gc.freeze()`` moves it out of the cyclic garbage collector's sight, so that a full
    collection does not walk it all while every request the worker holds waits.
    """
    app = create_app(IssuerSettings())
    gc.collect()
    gc.freeze()
    return app
