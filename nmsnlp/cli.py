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
    from .batch.partition import run
    from .io.readers import read_notes

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


@app.command()
def screen(
    input: Path = typer.Argument(None, help="CSV, JSONL, Parquet, a .txt file or a folder of .txt files; omit with --db to read a NOTE table"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    db: str = typer.Option(None, "--db", help="SQLAlchemy URL: the OMOP NOTE table to read (without INPUT) and where --note-nlp rows go"),
    table: str = typer.Option("note", "--table", help="table to read with --db"),
    where: str = typer.Option(None, "--where", help="SQL condition on the table, e.g. \"note_date >= '2024-01-01'\""),
    id_col: str = typer.Option(None, "--id-col", help="note id column (default note_id)"),
    text_col: str = typer.Option(None, "--text-col", help="text column (default note_text or text)"),
    person_col: str = typer.Option(None, "--person-col", help="person column (default person_id)"),
    datetime_col: str = typer.Option(None, "--datetime-col", help="date column (default note_datetime or note_date)"),
    title_col: str = typer.Option(None, "--title-col", help="title column (default note_title)"),
    fmt: str = typer.Option("csv", "--format", help="scores table besides scores.jsonl: csv or parquet"),
    note_nlp: bool = typer.Option(False, "--note-nlp", help="write OMOP NOTE_NLP rows (to --db if given, else note_nlp.csv)"),
    workers: int = typer.Option(0, "--workers", min=0, help="worker processes (default: all cores)"),
    resume: bool = typer.Option(False, "--resume", help="finish an interrupted run in the same --out folder"),
    chunk_size: int = typer.Option(256, "--chunk-size", min=1, help="notes per resumable chunk"),
    force: bool = typer.Option(False, "--force", help="overwrite existing output"),
    model_dir: Path = typer.Option(None, "--model", help="folder with a trained model (default: the shipped one)"),
    progress: bool = typer.Option(None, "--progress/--no-progress", help="progress bar (default: when on a terminal)"),
    show_evidence: bool = typer.Option(False, "--show-evidence", help="print flagged notes with their evidence (note text: off by default)"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Score notes for current NMS: scores, mentions, a screening list, a patient list, errors and run.json."""
    import os

    _setup_logging(verbose)
    from .batch.screen import Options, run_screen
    from .io.readers import Columns
    from .io.source import Source

    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("--format must be csv or parquet", param_hint="--format")
    if input is None and db is None:
        raise typer.BadParameter("give an INPUT file or folder, or --db with a NOTE table")
    if input is not None and where:
        raise typer.BadParameter("--where filters a database table (--db without INPUT); it does not apply to files",
                                 param_hint="--where")
    cols = Columns(id_col, text_col, person_col, datetime_col, title_col)
    source = Source(path=input, columns=cols) if input is not None else Source(db=db, table=table, where=where, columns=cols)
    opts = Options(out=out, workers=workers or os.cpu_count() or 1, fmt=fmt, note_nlp=note_nlp,
                   note_nlp_db=db if (note_nlp and db) else None, resume=resume, force=force,
                   model_dir=str(model_dir) if model_dir else None, progress=progress, chunk=chunk_size)
    try:
        if model_dir is not None:
            from .scoring.model import load_model

            load_model(model_dir)  # refuse a bad model before reading anything
        summary = run_screen(source, opts)
    except NmsnlpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    c = summary["counts"]
    typer.echo(
        f"{c['input_rows']} notes: {c['processed']} scored, {c['flagged']} flagged, {c['errors']} errors, "
        f"{c['patients']} patients, {c['duplicate_note_ids']} duplicate ids\n"
        f"screening list: {out / 'screening_list.csv'}\npatient list:   {out / 'patients.csv'}\n"
        f"scores: {out / 'scores.jsonl'}; run summary: {out / 'run.json'}"
    )
    if show_evidence:
        _print_flagged(out / "scores.jsonl")


def _print_flagged(scores: Path) -> None:
    rows = [json.loads(line) for line in scores.read_text(encoding="utf-8").splitlines()]
    flagged = sorted((r for r in rows if r.get("flagged")), key=lambda r: -r["score"])
    typer.echo(f"\nflagged notes, highest score first ({len(flagged)}):")
    for r in flagged:
        hist = ", past NMS" if r["nms_history"] else ""
        typer.echo(f"  {r['note_id']} (person {r['person_id']}): score {r['score']:.3f}, "
                   f"consensus points {r['criteria_points']}{hist}")
        typer.echo("    evidence: " + "; ".join(f"{e['text']!r} [{e['concept']}]" for e in r["evidence"][:8]))
    history = [r["note_id"] for r in rows if r.get("nms_history") and not r.get("flagged")]
    if history:
        typer.echo(f"past NMS only (not flagged as current): {', '.join(history)}")


@app.command()
def train(
    corpus: Path = typer.Option(Path("corpora"), "--corpus", help="the annotated corpus folder"),
    out: Path = typer.Option(Path("models"), "--out", help="where to write the model"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the suspicion score on the train split; set the threshold on dev; save with skops."""
    _setup_logging(False)
    from .evaluation.evaluate import evaluate, format_report
    from .evaluation.evaluate import train as train_model

    model, data = train_model(corpus, seed)
    from .extraction.rules import cached_rules

    drug_classes = cached_rules().drug_classes
    report = evaluate(model, data, drug_classes)
    model.meta["evaluation_test_split"] = {k: report[k] for k in ("n", "n_positive", "model", "keyword", "criteria",
                                                                 "core4of6", "recall_unnamed", "history_flagged_rate",
                                                                 "history_nms_history_rate", "by_genre")}
    model.save(out)
    typer.echo(f"model written to {out} (threshold {model.threshold:.4f})")
    from .scoring.model import default_models_dir

    if out.resolve() == default_models_dir().resolve():
        typer.echo(f"this is the shipped model folder: pin its new SHA-256 {model.meta['model_sha256']} "
                   "in nmsnlp/scoring/trust.py (SHIPPED_MODEL_SHA256)")
    typer.echo(format_report(report))


@app.command()
def evaluate(
    corpus: Path = typer.Option(Path("corpora"), "--corpus", help="the annotated corpus folder"),
    model_dir: Path = typer.Option(None, "--model", help="folder with a trained model (default: the shipped one)"),
) -> None:
    """Evaluate the model on the test split beside three baselines."""
    _setup_logging(False)
    from .evaluation.corpus import SPLITS, load_corpus
    from .evaluation.evaluate import evaluate as run_eval
    from .evaluation.evaluate import format_report, prepare
    from .extraction.extractor import Extractor
    from .extraction.pipeline import drug_classes
    from .scoring.model import load_model

    try:
        model = load_model(model_dir)
    except NmsnlpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    ex = Extractor()
    corp = load_corpus(corpus)
    data = {s: prepare(corp.split(s), ex) for s in SPLITS if s != "train"}
    typer.echo(format_report(run_eval(model, data, drug_classes(ex.nlp))))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
