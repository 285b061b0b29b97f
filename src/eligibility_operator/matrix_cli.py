"""``eligibility-operator matrix build | diff | keygen | sign | verify``, and the ``check --matrix
https://|oci://`` loader.

Stakater's release pipeline signs the matrix document with ``matrix sign`` (an Ed25519 key kept in the
pipeline's secrets) and publishes document and signature; anyone verifies a copy with ``matrix verify``.
Every failure exits 4 with the reason, never 0.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from .core.compat.matrix import CompiledMatrix

EXIT_FAILED = 4
MAX_FILE_BYTES = 4 * 1024 * 1024


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_FAILED)


def _read(path: Path, what: str, cap: int = MAX_FILE_BYTES) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(cap + 1)
    except OSError as exc:
        _fail(f"{path}: cannot read the {what}: {exc.strerror or exc}")
    if len(data) > cap:
        _fail(f"{path}: the {what} is larger than {cap} bytes")
    return data


@click.group()
def matrix() -> None:
    """Build, compare, sign and verify CompatibilityMatrix documents (Stakater's release pipeline, spec.source)."""


@matrix.command()
@click.option("--private-key", "private_out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--public-key", "public_out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def keygen(private_out: Path, public_out: Path) -> None:
    """Write a new Ed25519 key pair (PEM; the private key readable by its owner only). Never overwrites."""
    from .matrix_source import generate_key

    private, public = generate_key()
    for path in (private_out, public_out):
        if path.exists():
            _fail(f"{path} exists; not overwriting a key")
    try:
        fd = os.open(private_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private)
        public_out.write_bytes(public)
    except OSError as exc:
        _fail(f"cannot write the key pair: {exc}")
    click.echo(f"wrote {private_out} (keep it secret) and {public_out} (spec.source.publicKey)")


@matrix.command()
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Private key.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: FILE.sig."
)
@click.argument("document", type=click.Path(dir_okay=False, path_type=Path))
def sign(key_file: Path, output: Path | None, document: Path) -> None:
    """Validate the matrix DOCUMENT and write its detached signature (DOCUMENT.sig)."""
    from .matrix_source import SourceError, compile_document, digest_of
    from .matrix_source import sign as sign_bytes

    data = _read(document, "matrix")
    try:
        compiled = compile_document(data, None, 0, str(document))
        signature = sign_bytes(data, _read(key_file, "private key", 64 * 1024))
    except SourceError as exc:
        _fail(f"not signed: {exc}")
    except ValueError as exc:
        _fail(f"{key_file}: {exc}")
    target = output or document.with_name(document.name + ".sig")
    try:
        target.write_bytes(signature)
    except OSError as exc:
        _fail(f"cannot write {target}: {exc}")
    click.echo(f"signed {document} ({digest_of(data)}, {len(compiled.products)} products): wrote {target}")


@matrix.command()
@click.option("--public-key", "key_file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--signature", "signature_file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--digest", default=None, help="Pinned sha256:<hex> the document must have.")
@click.argument("document", type=click.Path(dir_okay=False, path_type=Path))
def verify(key_file: Path | None, signature_file: Path | None, digest: str | None, document: Path) -> None:
    """Verify DOCUMENT's signature (default DOCUMENT.sig) or digest, and validate it as a matrix.

    Exit 0 when it verifies and is a valid matrix, 4 otherwise."""
    from .matrix_source import SourceError, compile_document
    from .matrix_source import verify as verify_bytes

    if key_file is None and digest is None:
        raise click.UsageError("give --public-key or --digest")
    data = _read(document, "matrix")
    signature = None
    if key_file is not None:
        sig_path = signature_file or document.with_name(document.name + ".sig")
        signature = _read(sig_path, "signature", 64 * 1024) if sig_path.exists() else None
    try:
        public = _read(key_file, "public key", 64 * 1024) if key_file else None
        revision = verify_bytes(data, digest=digest, public_key=public, signature=signature)
        compiled = compile_document(data, None, 0, str(document))
    except SourceError as exc:
        _fail(f"not verified: {exc}")
    click.echo(f"verified {document}: {revision}, {len(compiled.products)} products")


def is_remote(reference: str) -> bool:
    return reference.lower().startswith(("https://", "oci://"))


def matrix_reference(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--matrix``: a local file (must exist) or an https:// / oci:// reference."""
    if value is None or is_remote(value):
        return value
    if not Path(value).is_file():
        raise click.BadParameter(f"file {value!r} does not exist (or give an https:// or oci:// reference)")
    return value


def load_matrix(
    reference: str | None,
    digest: str | None,
    public_key_file: Path | None,
    ca_bundle_file: Path | None,
    timeout: str = "30s",
) -> CompiledMatrix:
    """The matrix ``check`` judges against: the default, a file, or a verified remote document."""
    from .offline.files import InputError
    from .offline.loading import load_matrix_file

    if reference is not None and is_remote(reference):
        return load_remote_matrix(reference, digest, public_key_file, ca_bundle_file, timeout)
    if digest or public_key_file:
        raise InputError("--matrix-digest and --matrix-public-key apply to an https:// or oci:// --matrix")
    return load_matrix_file(Path(reference) if reference else None)


def load_remote_matrix(
    reference: str,
    digest: str | None,
    public_key_file: Path | None,
    ca_bundle_file: Path | None,
    timeout: str = "30s",
) -> CompiledMatrix:
    """Fetch, verify and compile a matrix for ``check``; any failure is an InputError (exit 4, no verdict)."""
    from .matrix_source import Integrity, SourceError, fetch_matrix
    from .matrix_source.duration import seconds
    from .offline.files import InputError

    if digest is None and public_key_file is None:
        raise InputError(f"matrix {reference} not used: a URL needs --matrix-digest or --matrix-public-key")
    try:
        limit = seconds(timeout)
    except ValueError as exc:
        raise InputError(f"--matrix-timeout: {exc}") from None
    try:
        public = public_key_file.read_text() if public_key_file else None
        ca_bundle = ca_bundle_file.read_text() if ca_bundle_file else None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the matrix key or CA bundle: {exc}") from None
    try:
        integrity = Integrity(digest=digest, public_key=public)
        return fetch_matrix(reference, integrity, ca_bundle=ca_bundle, timeout=limit, name=None, generation=0)
    except SourceError as exc:
        raise InputError(f"matrix {reference} not used: {exc}") from None


# ------------------------------------------------------------- build and diff


def _matrix_exit(run: Callable[[], Any]) -> None:
    """Print a matrix command's output; exit 4 on any input or internal error (never a verdict)."""
    from .offline.matrix_tools import commands
    from .offline.matrix_tools.sources import SourceError

    try:
        output = run()
    except SourceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(commands.EXIT_INPUT_ERROR)
    except Exception as exc:  # last resort: exit 1 would mean "different"
        click.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(commands.EXIT_INPUT_ERROR)
    for warning in output.warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in output.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(output.text)
    sys.exit(output.exit_code)


@matrix.command("build")
@click.option(
    "--chart-index",
    required=True,
    help="Helm repository index.yaml: a file or an https:// URL "
    "(e.g. https://stakater.github.io/stakater-charts/index.yaml).",
)
@click.option(
    "--repository",
    default=None,
    help="Chart repository the index belongs to; only charts the base lists under it are read. "
    "Default: the --chart-index URL without /index.yaml, for a file https://stakater.github.io/stakater-charts.",
)
@click.option("--base", default=None, help="CompatibilityMatrix to start from. Default: the shipped default matrix.")
@click.option(
    "--product", "products", multiple=True, help="Rebuild only this product (repeatable). Default: every product."
)
@click.option(
    "--platform-eol",
    "platform_eol",
    multiple=True,
    metavar="NAME=FILE",
    help="Replace spec.platforms.NAME (kubernetes, openshift) from endoflife.date JSON "
    "([{cycle, releaseDate, eol, latest}]); repeatable.",
)
@click.option(
    "--source-label",
    default=None,
    metavar="TEXT",
    help="Where the chart index came from, written into each line's source instead of the --chart-index "
    "argument (a local path is never written). Default: the --chart-index URL.",
)
@click.option(
    "--ca-bundle",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="PEM CA certificates to trust for https:// inputs instead of the system's.",
)
@click.option(
    "--timeout",
    default="30s",
    show_default=True,
    help="Wall-clock limit for reading each https:// input, however slowly it is sent (e.g. 10s, 2m).",
)
def matrix_build(
    chart_index: str,
    repository: str | None,
    base: str | None,
    products: tuple[str, ...],
    platform_eol: tuple[str, ...],
    source_label: str | None,
    ca_bundle: str | None,
    timeout: str,
) -> None:
    """Print a CompatibilityMatrix with release lines derived from a chart index.

    \b
    Release lines are the charts' appVersion major.minor; a line is released when its first chart
    was published; an older line ends support 12 months after the line that replaced it. Images,
    labels, OLM packages and charts come from the base. The output is validated as an applied
    matrix is. Warnings on stderr (and a note in the line's source) name what a reviewer must
    check: release dates from a mass re-index of the repository, and latest versions known only
    from a chart without appVersion. Exit codes: 0 written, 4 invalid input or an input not read
    within --timeout (nothing written to stdout).
    """
    from .offline.matrix_tools import commands

    def run() -> commands.Output:
        fetching = commands.Fetching.from_options(timeout, ca_bundle)
        return commands.build(
            chart_index, base, products, platform_eol, repository, source_label=source_label, fetching=fetching
        )

    _matrix_exit(run)


@matrix.command("diff")
@click.argument("old")
@click.argument("new")
def matrix_diff(old: str, new: str) -> None:
    """Print what changed from matrix OLD to matrix NEW, product by product.

    \b
    Exit codes: 0 no differences, 1 different, 4 invalid input.
    """
    from .offline.matrix_tools import commands

    _matrix_exit(lambda: commands.diff(old, new))
