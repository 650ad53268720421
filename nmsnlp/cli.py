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


@app.command()
def screen(
    input: Path = typer.Argument(..., help="JSONL or CSV with note_id and text (or note_text), a .txt file, or a folder of .txt files"),
    out: Path = typer.Option(..., "--out", help="output folder: scores.jsonl, scores.csv, mentions.jsonl, errors.jsonl"),
    id_col: str = typer.Option(None, "--id-col"),
    text_col: str = typer.Option(None, "--text-col"),
    model_dir: Path = typer.Option(None, "--model", help="folder with a trained model (default: the shipped one)"),
    force: bool = typer.Option(False, "--force", help="overwrite existing output"),
    show_evidence: bool = typer.Option(False, "--show-evidence", help="print flagged notes with their evidence (note text: off by default)"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Score notes for current NMS: one record per note (contract section 2)."""
    _setup_logging(verbose)
    from .io import read_notes
    from .model import load_model
    from .score import Scorer
    from .screen import score_records, write_outputs

    if out.exists() and any(out.iterdir()) and not force:
        raise typer.BadParameter(f"{out} is not empty; pass --force to overwrite", param_hint="--out")
    try:
        scorer = Scorer(model=load_model(model_dir))
        counts = write_outputs(score_records(read_notes(input, id_col, text_col), scorer), out)
    except NmsnlpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"{counts['notes']} notes: {counts['scored']} scored, {counts['flagged']} flagged, {counts['errors']} errors "
        f"in {counts['seconds']}s -> {out}/scores.jsonl, scores.csv"
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
    from .evaluate import evaluate, format_report
    from .evaluate import train as train_model

    model, data = train_model(corpus, seed)
    from .rules import cached_rules

    drug_classes = cached_rules().drug_classes
    report = evaluate(model, data, drug_classes)
    model.meta["evaluation_test_split"] = {k: report[k] for k in ("n", "n_positive", "model", "keyword", "criteria",
                                                                 "core4of6", "recall_unnamed", "history_flagged_rate",
                                                                 "history_nms_history_rate")}
    model.save(out)
    typer.echo(f"model written to {out} (threshold {model.threshold:.4f})")
    typer.echo(format_report(report))


@app.command()
def evaluate(
    corpus: Path = typer.Option(Path("corpora"), "--corpus", help="the annotated corpus folder"),
    model_dir: Path = typer.Option(None, "--model", help="folder with a trained model (default: the shipped one)"),
) -> None:
    """Evaluate the model on the test split beside three baselines."""
    _setup_logging(False)
    from .corpus import SPLITS, load_corpus
    from .evaluate import evaluate as run_eval
    from .evaluate import format_report, prepare
    from .extract import Extractor
    from .model import load_model

    try:
        model = load_model(model_dir)
    except NmsnlpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    ex = Extractor()
    corp = load_corpus(corpus)
    data = {s: prepare(corp.split(s), ex) for s in SPLITS if s != "train"}
    typer.echo(format_report(run_eval(model, data, ex.nlp.get_pipe("nmsnlp_mentions").rules.drug_classes)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
