"""``passerelle qr encode`` and ``passerelle qr decode``: credentials on paper and screens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from passerelle import qr
from passerelle.cli._common import cli_errors, fail, read_text_arg

__all__ = ["app"]

app = typer.Typer(
    help="QR codes for credentials: compact paper payload (PS1:), PNG/SVG, image decoding.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_IMAGE_SUFFIXES = (".png", ".svg")


@app.command()
def encode(
    token: Annotated[str, typer.Argument(help="The SD-JWT (VC or presentation), or - for stdin.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Image file to write: .png or .svg."),
    ] = None,
    plain: Annotated[
        bool,
        typer.Option("--plain", help="Put the SD-JWT itself in the code (byte mode)."),
    ] = False,
    ec: Annotated[str, typer.Option("--ec", help="Error correction level: L, M, Q or H.")] = "M",
    box_size: Annotated[int, typer.Option(help="Pixels (SVG units) per module.")] = 8,
) -> None:
    """Make the QR code of a credential.

    With -o, writes the image and prints the QR version and payload length; without it,
    prints the QR payload text (the version and length go to standard error).
    """
    ec = ec.upper()
    if ec not in qr.EC_LEVELS:
        fail("--ec must be L, M, Q or H")
    if output is not None and output.suffix.lower() not in _IMAGE_SUFFIXES:
        fail("the output file must end in .png or .svg")
    with cli_errors():
        text = read_text_arg(token)
        if not text:
            fail("no token given")
        data = text if plain else qr.encode_payload(text)
        version = qr.qr_version(data, ec)
        summary = (
            f"QR version {version} (level {ec}), {'byte' if plain else 'alphanumeric'} mode, "
            f"payload {len(data)} characters (token {len(text)})"
        )
        if output is None:
            typer.echo(data)
            typer.echo(summary, err=True)
            return
        if output.suffix.lower() == ".svg":
            output.write_text(qr.render_svg(data, ec=ec, box_size=box_size), encoding="utf-8")
        else:
            output.write_bytes(qr.render_png(data, ec=ec, box_size=box_size))
        typer.echo(f"{output}: {summary}")


@app.command()
def decode(
    image_file: Annotated[Path, typer.Argument(help="PNG or JPEG image holding one QR code.")],
    raw: Annotated[
        bool, typer.Option("--raw", help="Print the code's text as is, without decoding it.")
    ] = False,
) -> None:
    """Read the QR code in an image and print the compact SD-JWT it carries."""
    with cli_errors():
        with image_file.open("rb") as stream:  # no more than the limit, plus one to see it
            data = stream.read(qr.MAX_IMAGE_BYTES + 1)
        text = qr.decode_image(data)
        typer.echo(text if raw else qr.normalise(text))
