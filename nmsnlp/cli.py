"""The command line: thin typer commands over plain functions."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import typer

from .errors import NmsnlpError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Find Neuroleptic Malignant Syndrome in clinical notes.")


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"nmsnlp {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version"),
) -> None:
    """Find Neuroleptic Malignant Syndrome in clinical notes."""


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _check_out(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise typer.BadParameter(f"{path} exists; pass --force to overwrite", param_hint="--out")
    path.parent.mkdir(parents=True, exist_ok=True)


@app.command()
def extract(
    input: Path = typer.Argument(..., help="JSONL or CSV with note_id and text (or note_text), a .txt file, or a folder of .txt files"),
    out: Path = typer.Option(..., "--out", help="mention records, JSONL (contract section 1)"),
    workers: int = typer.Option(1, "--workers", min=1, help="worker processes"),
    id_col: str = typer.Option(None, "--id-col", help="column holding the note id"),
    text_col: str = typer.Option(None, "--text-col", help="column holding the note text"),
    force: bool = typer.Option(False, "--force", help="overwrite existing output"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Extract drug, symptom, lab, vital, diagnosis and procedure mentions from notes."""
    _setup_logging(verbose)
    from .batch import run
    from .io import read_notes

    _check_out(out, force)
    errors_path = out.with_name(out.stem + ".errors.jsonl")
    n_notes = n_mentions = n_errors = 0
    t0 = time.perf_counter()
    try:
        with out.open("w", encoding="utf-8") as fo, errors_path.open("w", encoding="utf-8") as fe:
            for res in run(read_notes(input, id_col, text_col), workers=workers):
                n_notes += 1
                if res.error:
                    n_errors += 1
                    fe.write(json.dumps({"note_id": res.note_id, "source": res.source, "error": res.error}) + "\n")
                    continue
                for m in res.mentions:
                    fo.write(json.dumps(m.to_dict(), ensure_ascii=False) + "\n")
                n_mentions += len(res.mentions)
    except NmsnlpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    secs = time.perf_counter() - t0
    typer.echo(
        f"{n_notes} notes, {n_mentions} mentions, {n_errors} errors in {secs:.1f}s -> {out}"
        + (f" (errors: {errors_path})" if n_errors else ""),
        err=True,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
