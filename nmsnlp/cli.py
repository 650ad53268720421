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
    input: str = typer.Argument(None, help="CSV, JSONL, Parquet, a .txt file or a folder of .txt files; omit with --db to read a NOTE table"),
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
    encoding: str = typer.Option("utf-8-sig", "--encoding", help="text encoding of the input files (e.g. cp1252; a BOM is skipped)"),
    sep: str = typer.Option(None, "--sep", help="CSV field separator (default: comma; tab for .tsv)"),
    recursive: bool = typer.Option(False, "--recursive", help="read the .txt files of subfolders too"),
    date_format: str = typer.Option(None, "--date-format", help="day/month order of slashed dates: mdy (default), dmy or ymd"),
    note_timeout: float = typer.Option(60.0, "--note-timeout", min=0, help="seconds one note may take before it becomes an error record (0: no limit)"),
    replace: bool = typer.Option(False, "--replace", help="with --note-nlp to a database: replace this tool's earlier rows for these notes"),
    engine: str = typer.Option("local", "--engine", help="local (worker processes on this machine) or spark (Apache Spark: pip install 'nmsnlp[spark]')"),
    spark_master: str = typer.Option(None, "--spark-master", help="--engine spark: the master URL, e.g. local[2] (default: spark-submit's, else local[*])"),
    spark_conf: list[str] = typer.Option(None, "--spark-conf", help="--engine spark: a Spark setting key=value (repeatable)"),
    partition_notes: int = typer.Option(2000, "--partition-notes", min=1, help="--engine spark: notes per Spark task"),
    review: bool = typer.Option(False, "--review", help="also write the chart-review report, OUT/review.html (holds note text)"),
    sample_unflagged: int = typer.Option(0, "--sample-unflagged", min=0, help="with --review: add a random sample of N unflagged notes"),
    seed: int = typer.Option(0, "--seed", help="with --review: the sample's random seed"),
    blind: bool = typer.Option(False, "--blind", help="with --review: hide score, reasons and rank order"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Score notes for current NMS: scores, mentions, a screening list, a patient list, errors and run.json."""
    import os

    _setup_logging(verbose)
    if engine not in ("local", "spark"):
        raise typer.BadParameter("--engine must be local or spark", param_hint="--engine")
    if engine == "spark":
        if review:
            raise typer.BadParameter("the review report reads the local engine's JSONL outputs; screen without "
                                     "--engine spark for a review", param_hint="--review")
        _screen_spark(input, out, db, table, where, (id_col, text_col, person_col, datetime_col, title_col), note_nlp,
                      resume, force, model_dir, spark_master, spark_conf, partition_notes, show_evidence, verbose,
                      sep=sep, date_format=date_format)
        return
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("--format must be csv or parquet", param_hint="--format")
    if date_format is not None and date_format not in ("mdy", "dmy", "ymd"):
        raise typer.BadParameter("--date-format must be mdy, dmy or ymd", param_hint="--date-format")
    if input is not None and where:
        raise typer.BadParameter("--where filters a database table (--db without INPUT); it does not apply to files",
                                 param_hint="--where")
    from .batch.folder import takes

    n_workers = workers or os.cpu_count() or 1
    pool = None
    if n_workers > 1 and not resume and takes(out, force):  # the workers load the pipeline while this process sets the run up
        from functools import partial

        from .batch.pool import start_pool, warm_screening

        pool = start_pool(n_workers, partial(warm_screening, str(model_dir) if model_dir else None))
    try:
        from .batch.screen import Options, run_screen
        from .io.readers import Columns
        from .io.source import Source

        cols = Columns(id_col, text_col, person_col, datetime_col, title_col)
        reading = {"columns": cols, "encoding": encoding, "sep": sep, "recursive": recursive, "date_format": date_format}
        opts = Options(out=out, workers=n_workers, fmt=fmt, note_nlp=note_nlp,
                       note_nlp_db=db if (note_nlp and db) else None, resume=resume, force=force,
                       model_dir=str(model_dir) if model_dir else None, progress=progress, chunk=chunk_size,
                       note_timeout=note_timeout, date_format=date_format, replace=replace)
        try:
            if resume and input is None and (db is None or (out / ".nmsnlp-parts" / "manifest.json").is_file()):
                from .batch.screen import resumed

                source, opts = resumed(out, db, opts)  # the interrupted run's input and options
            elif input is None and db is None:
                raise typer.BadParameter("give an INPUT file or folder, or --db with a NOTE table")
            else:
                source = (Source(path=Path(input), **reading) if input is not None  # type: ignore[arg-type]
                          else Source(db=db, table=table, where=where, **reading))  # type: ignore[arg-type]
            if opts.model_dir is not None:
                from .scoring.model import load_model

                load_model(opts.model_dir)  # refuse a bad model before reading anything
            summary = run_screen(source, opts, pool)  # (no pool on --resume, whose options may come from the run)
        except NmsnlpError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        except KeyboardInterrupt as exc:
            typer.echo(f"\ninterrupted: the scored chunks are kept; finish with `nmsnlp screen --out {out} --resume`", err=True)
            raise typer.Exit(130) from exc
        c = summary["counts"]
        typer.echo(
            f"{c['input_rows']} notes: {c['processed']} scored, {c['flagged']} flagged, {c['errors']} errors, "
            f"{c['patients']} patients, {c['duplicate_note_ids']} duplicate ids\n"
            f"screening list: {out / 'screening_list.csv'}\npatient list:   {out / 'patients.csv'}\n"
            f"scores: {out / 'scores.jsonl'}; run summary: {out / 'run.json'}"
        )
        if show_evidence:
            _print_flagged(out / "scores.jsonl")
        if review:
            from .outputs.review import ReviewOptions

            _write_review(out, None, ReviewOptions(sample_unflagged=sample_unflagged, seed=seed, blind=blind,
                                                   model_dir=model_dir, db=db), force=True)
    finally:
        if pool is not None:  # (shut down already when the run got to scoring)
            pool.shutdown(wait=False, cancel_futures=True)


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


def _screen_spark(input: str | None, out: Path, db: str | None, table: str, where: str | None,
                  columns: tuple[str | None, ...], note_nlp: bool, resume: bool, force: bool, model_dir: Path | None,
                  master: str | None, conf: list[str] | None, partition_notes: int, show_evidence: bool,
                  verbose: bool, sep: str | None = None, date_format: str | None = None) -> None:
    """`nmsnlp screen --engine spark`: the local engine's outputs, screened on Apache Spark (nmsnlp.batch.spark)."""
    if resume:
        raise typer.BadParameter("--engine spark retries failed tasks itself; run again with --force", param_hint="--resume")
    if date_format is not None and date_format not in ("mdy", "dmy", "ymd"):
        raise typer.BadParameter("--date-format must be mdy, dmy or ymd", param_hint="--date-format")
    if input is None and db is None:
        raise typer.BadParameter("give an INPUT file, or --db with a jdbc: URL and --table")
    if input is not None and where:
        raise typer.BadParameter("--where filters a database table (--db without INPUT)", param_hint="--where")
    if db is not None and not db.startswith("jdbc:"):
        raise typer.BadParameter("--engine spark reads (and with --note-nlp writes) a database over JDBC: give a jdbc: "
                                 "URL, e.g. jdbc:postgresql://host:5432/cdm?user=me", param_hint="--db")
    try:
        from .batch.spark_run import SparkInput, SparkOptions, parse_conf, run_spark_screen, spark_session
    except ImportError as exc:
        typer.echo(f"error: --engine spark needs PySpark: pip install 'nmsnlp[spark]' ({exc})", err=True)
        raise typer.Exit(2) from exc
    from .io.readers import Columns

    cols = Columns(*columns)
    if input is not None:  # a local path, or a URI Spark reads (hdfs://..., s3a://...), as given
        src = SparkInput(path=input, columns=cols, sep=sep, date_format=date_format)
    else:
        src = SparkInput(jdbc=db, table=table, where=where, columns=cols, date_format=date_format)
    opts = SparkOptions(out=out, note_nlp=note_nlp, force=force, model_dir=str(model_dir) if model_dir else None,
                        partition_notes=partition_notes)
    spark, owned = None, False
    try:
        if model_dir is not None:
            from .scoring.model import load_model

            load_model(model_dir)  # refuse a bad model before starting Spark
        spark, owned = spark_session(master, parse_conf(conf))
        if owned and not verbose:
            spark.sparkContext.setLogLevel("ERROR")
        summary = run_spark_screen(spark, src, opts)
    except NmsnlpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        if spark is not None and owned:
            spark.stop()
    c = summary["counts"]
    typer.echo(
        f"{c['input_rows']} notes: {c['processed']} scored, {c['flagged']} flagged, {c['errors']} errors, "
        f"{c['patients']} patients, {c['duplicate_note_ids']} duplicate ids (Spark, {summary['spark']['master']})\n"
        f"screening list: {out / 'screening_list.csv'}\npatient list:   {out / 'patients.csv'}\n"
        f"scores: {out / 'scores.parquet'}; run summary: {out / 'run.json'}"
    )
    if show_evidence:
        import tempfile

        import pyarrow.dataset as ds

        wanted = ds.field("flagged") | ds.field("nms_history")
        rows = ds.dataset(out / "scores.parquet", format="parquet").to_table(filter=wanted).to_pylist()
        with tempfile.TemporaryDirectory() as tmp:
            shown = Path(tmp) / "scores.jsonl"
            shown.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            _print_flagged(shown)


@app.command()
def train(
    corpus: Path = typer.Option(Path("corpora"), "--corpus", help="the annotated corpus folder"),
    out: Path = typer.Option(Path("models"), "--out", help="where to write the model"),
    seed: int = typer.Option(0, "--seed"),
    extra: Path = typer.Option(None, "--extra", help="a site's adjudicated notes (JSONL with text and decision, from "
                                                      "`nmsnlp adjudication notes`) to train on beside the corpus"),
) -> None:
    """Train the suspicion score on the train split; set the threshold on dev; save with skops."""
    _setup_logging(False)
    from .evaluation.evaluate import evaluate, format_report
    from .evaluation.evaluate import train as train_model

    if extra is not None:
        from .evaluation.adjudication import train_with_extra
        from .scoring.model import default_models_dir

        if out.resolve() == default_models_dir().resolve():
            raise typer.BadParameter("a model trained on a site's notes goes to its own folder, e.g. --out models/local",
                                     param_hint="--out")
        try:
            model, data = train_with_extra(corpus, extra, seed)
        except NmsnlpError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    else:
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


# --------------------------------------------------------------------------- chart review


def _write_review(results: Path, out: Path | None, opts: object, force: bool) -> None:
    from .outputs.review import ReviewOptions, write_review

    assert isinstance(opts, ReviewOptions)
    target = out or results / "review.html"
    if target.exists() and not force:
        raise typer.BadParameter(f"{target} exists; pass --force to overwrite it (decisions live in the browser and in "
                                 "your exports, not in the report)", param_hint="--out")
    try:
        res = write_review(results, out, opts)
    except NmsnlpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"review report: {res.path} ({res.n_review} notes: {res.n_flagged} flagged"
               + (f" + {res.n_sampled} unflagged sampled" if res.n_sampled else "")
               + (f"; {res.n_context} more of the same patients for context" if res.n_context else "")
               + f"; {res.bytes / 1e6:.1f} MB; report id {res.report_id})")
    typer.echo("it holds note text (PHI): written for your eyes only (mode 0600); it makes no network request and "
               "sends nothing anywhere. Open it in a browser; decisions autosave there; export them as adjudications.jsonl.")


@app.command()
def review(
    results: Path = typer.Argument(..., help="the --out folder of an `nmsnlp screen` run"),
    out: Path = typer.Option(None, "--out", help="the report file (default RESULTS/review.html)"),
    sample_unflagged: int = typer.Option(0, "--sample-unflagged", min=0, help="add a random sample of N unflagged notes "
                                                                              "(for sensitivity; marked only after the decision)"),
    seed: int = typer.Option(0, "--seed", help="the random seed of the sample (and of the order with --blind)"),
    blind: bool = typer.Option(False, "--blind", help="hide score, reasons and rank order (notes in random order)"),
    context_notes: int = typer.Option(10, "--context-notes", min=0, help="per patient, up to N other notes included "
                                                                         "in full for the timeline"),
    input: Path = typer.Option(None, "--input", help="the notes the run screened, when they are no longer where run.json says"),
    db: str = typer.Option(None, "--db", help="for a database input: its URL with the password (never stored)"),
    model_dir: Path = typer.Option(None, "--model", help="the model folder that scored the run (default: the shipped one)"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing report"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Write the chart-review report: one self-contained HTML file with each note's text, highlights, criteria,
    reasons and timeline, where a reviewer records decisions with the keyboard."""
    _setup_logging(verbose)
    from .outputs.review import ReviewOptions

    _write_review(results, out, ReviewOptions(sample_unflagged=sample_unflagged, seed=seed, blind=blind,
                                              context_notes=context_notes, input_path=input, db=db, model_dir=model_dir),
                  force)


adjudication = typer.Typer(no_args_is_help=True, help="Figures from review decisions (adjudications.jsonl).")
app.add_typer(adjudication, name="adjudication")


@adjudication.command("summary")
def adjudication_summary(
    first: Path = typer.Argument(..., help="adjudications.jsonl exported from the review report"),
    second: Path = typer.Argument(None, help="a second reviewer's export of the same report (agreement, kappa)"),
    results: Path = typer.Option(..., "--results", help="the `nmsnlp screen` folder the report was built from"),
    out: Path = typer.Option(None, "--out", help="folder for summary.json, summary.csv, ppv_by_rank.csv, disagreements.csv "
                                                 "(default: beside FIRST, FIRST-summary/)"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing summary folder"),
) -> None:
    """PPV (Wilson interval), cumulative PPV by rank, sensitivity from the unflagged sample, counts per decision,
    and with SECOND Cohen's kappa and the disagreements."""
    _setup_logging(False)
    from .evaluation.adjudication import format_summary, read_adjudications, summarize, write_summary

    target = out or first.with_name(first.stem + "-summary")
    if target.exists() and any(target.iterdir()) and not force:
        raise typer.BadParameter(f"{target} is not empty; pass --force to overwrite", param_hint="--out")
    try:
        s = summarize(read_adjudications(first), results, read_adjudications(second) if second else None)
    except NmsnlpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(format_summary(s))
    written = write_summary(s, target)
    typer.echo("\nwritten: " + ", ".join(str(p) for p in written))


@adjudication.command("notes")
def adjudication_notes(
    adjudications: Path = typer.Argument(..., help="adjudications.jsonl exported from the review report"),
    results: Path = typer.Option(..., "--results", help="the `nmsnlp screen` folder the report was built from"),
    out: Path = typer.Option(..., "--out", help="JSONL of the decided notes with their text (for `nmsnlp train --extra`)"),
    input: Path = typer.Option(None, "--input", help="the notes the run screened, when they moved"),
    db: str = typer.Option(None, "--db", help="for a database input: its URL with the password"),
    force: bool = typer.Option(False, "--force", help="overwrite existing output"),
) -> None:
    """The decided notes' text beside their decisions: the input of `nmsnlp train --extra`. Holds PHI (mode 0600)."""
    _setup_logging(False)
    from .evaluation.adjudication import notes_with_decisions, read_adjudications

    _check_out(out, force)
    try:
        n = notes_with_decisions(read_adjudications(adjudications), results, out, input, db)
    except NmsnlpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{n} decided notes with their text -> {out} (holds note text: mode 0600)")


@app.command()
def calibrate(
    adjudications: Path = typer.Option(..., "--adjudications", help="adjudications.jsonl exported from the review report"),
    results: Path = typer.Option(..., "--results", help="the `nmsnlp screen` folder the report was built from"),
    out: Path = typer.Option(..., "--out", help="the folder of the recalibrated model, e.g. models/local"),
    target_sensitivity: float = typer.Option(0.95, "--target-sensitivity", help="the threshold keeps this sensitivity"),
    model_dir: Path = typer.Option(None, "--model", help="the model that scored the run (default: the shipped one)"),
    force: bool = typer.Option(False, "--force", help="overwrite a model already in --out"),
) -> None:
    """Recalibrate the model on a site's review decisions (Platt scaling of the frozen model) and set its
    threshold for a target sensitivity; `nmsnlp screen --model OUT` then uses it."""
    _setup_logging(False)
    from .evaluation.adjudication import calibrate as run_calibrate
    from .evaluation.adjudication import file_sha256, read_adjudications
    from .scoring.model import META_FILE, default_models_dir

    if out.resolve() == default_models_dir().resolve():
        raise typer.BadParameter("a recalibrated model goes to its own folder, e.g. --out models/local", param_hint="--out")
    if (out / META_FILE).exists() and not force:
        raise typer.BadParameter(f"{out} already holds a model; pass --force to replace it", param_hint="--out")
    try:
        model, rep = run_calibrate(read_adjudications(adjudications), results, file_sha256(adjudications),
                                   target_sensitivity, model_dir)
    except NmsnlpError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    model.save(out)
    c = rep["counts"]
    typer.echo(f"recalibrated on {c['labelled']} decided notes ({c['positive']} current NMS; {c['unsure_left_out']} unsure left out; "
               f"{c['flagged_decided']} flagged, {c['unflagged_decided']} from the unflagged sample)")
    typer.echo(f"Platt scaling: calibrated log-odds = {rep['a']:.3f} x log-odds {'+' if rep['b'] >= 0 else '-'} {abs(rep['b']):.3f}")
    typer.echo(f"threshold {rep['threshold']:.4f} for sensitivity >= {target_sensitivity} "
               f"(the old threshold {rep['base_threshold']:.4f} is {rep['base_threshold_equivalent_new_score']:.4f} on the new scale)")
    typer.echo(f"on this run it would flag {rep['flagged_in_run_after']} of {rep['notes_in_run']} notes "
               f"(the base model flagged {rep['flagged_in_run_before']})")
    if not rep["unflagged_sample"]:
        typer.echo("warning: no decisions on unflagged notes; the calibration below the old threshold is an extrapolation "
                   "(review with --sample-unflagged N)")
    typer.echo(f"model written to {out}; use it with `nmsnlp screen ... --model {out}`")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
