"""Helpers shared by the CLI modules: error reporting, token input, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

import typer

from passerelle import errors

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


class LogLevel(StrEnum):
    """uvicorn's log levels, for the ``--log-level`` of the ``serve`` commands."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


LOG_LEVEL_OPTION = typer.Option(
    "--log-level",
    help="uvicorn log level; 'warning' and above leave out the per-request access log.",
)


def serve_factory(factory: str, *, host: str, port: int, workers: int, level: LogLevel) -> None:
    """Serve the app that ``factory`` (``module:function``) builds in each worker, with
    uvicorn on uvloop and httptools: what both services' ``serve`` commands run. Several
    workers share their connections fairly (:mod:`passerelle.cli._workers`)."""
    import uvicorn

    from passerelle.cli._workers import BalancedHttpToolsProtocol, worker_table

    with worker_table(workers):
        uvicorn.run(
            factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http=BalancedHttpToolsProtocol if workers > 1 else "httptools",
            log_level=level.value,
        )


def fail(message: str, code: str = "invalid_input") -> NoReturn:
    """Print ``error [code]: message`` on stderr and exit 2."""
    typer.echo(f"error [{code}]: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn any core error (or unreadable file) into a clear message and exit code 2."""
    try:
        yield
    except errors.PasserelleError as exc:
        fail(exc.detail, exc.code)
    except OSError as exc:
        fail(f"{exc.filename or ''}: {exc.strerror or exc}".strip(": "), "io_error")


def read_text_arg(value: str) -> str:
    """The token an argument stands for: ``-`` reads standard input, the path of an
    existing file reads that file, anything else is the token itself (stripped)."""
    if value == "-":
        return sys.stdin.read().strip()
    text = value.strip()
    # a compact token never contains '/', and is far longer than any path
    if len(text) < 4096 and ("/" in text or "." not in text or text.endswith(".txt")):
        path = Path(text)
        if path.is_file():
            try:
                return path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise errors.InvalidInputError(f"cannot read {path}: {exc}") from exc
    return text


def read_json_file(path: Path) -> Any:
    """Load a JSON (or YAML, by extension) file, mapping failures to ``InvalidInputError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.InvalidInputError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise errors.InvalidInputError(f"{path} is not UTF-8 text") from exc
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError subclasses
        raise errors.InvalidInputError(f"{path} is not valid JSON/YAML: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError is not a ValueError
        raise errors.InvalidInputError(f"{path} is not valid YAML: {exc}") from exc


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False))
