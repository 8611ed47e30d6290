"""The ``kb`` command: ingest, ask, eval, info. Side effects (printing, files, exit codes) live here."""
from __future__ import annotations

import functools
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .config import get_settings
from .errors import KBError
from .offline import ensure_offline
from .records import answer_record
from .types import SearchFilter

console = Console(stderr=True)


def _shows_user_errors(command: Callable) -> Callable:
    """The one place the CLI turns a ``KBError`` into its message and exit code 1; any other
    exception is a bug and keeps its traceback."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KBError as exc:
            console.print(str(exc), markup=False)
            raise typer.Exit(1) from exc
    return run


class _Typer(typer.Typer):
    """Every command and callback registered here shows user errors as messages."""

    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)
        return lambda f: register(_shows_user_errors(f))

    def callback(self, *args, **kwargs):
        register = super().callback(*args, **kwargs)
        return lambda f: register(_shows_user_errors(f))


app = _Typer(add_completion=False, no_args_is_help=True, help="Vidensbase over socialfaglig vejledning.")


def _setup_logging() -> None:
    level = get_settings().log_level.upper()
    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)])
    for noisy in ("chromadb", "httpx", "httpx2", "urllib3", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _knowledge_base(mode: str = "hybrid", llm: bool = True):
    """The knowledge base as configured; ``llm=False`` quotes even when a chat model is configured
    (evaluation measures the quoted answers unless asked for the model's)."""
    from .service import KnowledgeBase

    settings = get_settings() if llm else get_settings().override(llm_provider="none")
    return KnowledgeBase(settings, mode=mode)  # type: ignore[arg-type]


def _require_llm() -> None:
    if get_settings().llm.llm_provider == "none":
        raise typer.BadParameter("--llm kræver en sprogmodel: sæt KB_LLM_PROVIDER, KB_LLM_BASE_URL og KB_LLM_MODEL "
                                 "(README, Sprogmodel).")


@app.command()
def ingest(paths: list[Path] = typer.Argument(None, help="Filer eller mapper (standard: corpus/)"),
           rebuild: bool = typer.Option(False, help="Slet vidensbasen og byg den forfra")) -> None:
    """Indlæs dokumenter: kun nye og ændrede filer embeddes; slettede filer fjernes."""
    settings = get_settings()
    kb = _knowledge_base()
    targets = paths or [settings.corpus_dir]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("Indlæser", total=None)

        def progress(done: int, total: int, source: str) -> None:
            bar.update(task, completed=done, total=total, description=f"Indlæser {source}")

        try:
            report = kb.ingest(targets, progress, rebuild=rebuild)
        except FileNotFoundError as exc:
            console.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(2) from exc
    for source, reason in report.failed:
        console.print(f"[red]Sprunget over:[/red] {escape(source)}: {escape(reason)}")
    for warning in report.warnings:
        console.print(f"[yellow]Advarsel:[/yellow] {escape(warning)}")
    for suggestion in report.suggestions:
        console.print(f"[cyan]Forslag:[/cyan] {escape(suggestion)}")
    total = kb.store.count()
    rate = report.chunks_written / report.seconds if report.seconds else 0.0
    console.print(
        f"Nye: {len(report.added)}, ændrede: {len(report.updated)}, fjernede: {len(report.removed)}, "
        f"uændrede: {len(report.unchanged)}, fejlede: {len(report.failed)}. "
        f"Tekststykker skrevet: {report.chunks_written} ({rate:.1f}/s); embeddet: {report.embedded}, "
        f"genbrugt fra cache: {report.embeddings_reused}; i alt i vidensbasen: {total}. "
        f"Tid: {report.seconds:.1f} s.", soft_wrap=True)  # one line in a log, never broken mid-number
    if report.index_rebuilt:
        console.print("Søgeindekset (BM25) er bygget på ny ud fra vidensbasen.")
    if not report.changed and not report.failed:
        console.print("Intet nyt at indlæse: ingen embedding udført.")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def ask(question: str = typer.Argument(..., help="Spørgsmålet"),
        as_json: bool = typer.Option(False, "--json", help="Skriv eval-recorden som JSON (= --format json)"),
        fmt: str = typer.Option("terminal", "--format", help=(
            "terminal (standard), text (til et journalnotat: kilderne skrevet ud), markdown eller json")),
        k: int = typer.Option(10, "-k", help="Antal fundne tekststykker i svaret/recorden"),
        doc_type: Optional[list[str]] = typer.Option(None, "--type", help="Kun denne dokumenttype"),
        date_from: str = typer.Option("", "--from", help="Fra dato (ISO, fx 2022 eller 2022-09-01)"),
        date_to: str = typer.Option("", "--to", help="Til dato (ISO)"),
        issuer: Optional[list[str]] = typer.Option(None, "--issuer", help=(
            "Kun denne udgiver (gentag for flere); et tidligere navn tæller med, fx Socialstyrelsen for "
            "Social- og Boligstyrelsen")),
        history: Optional[list[str]] = typer.Option(None, "--history",
                                                    help="Et tidligere spørgsmål i samtalen (gentag for flere, ældste først)")) -> None:
    """Stil et spørgsmål og få et svar med kildehenvisninger; med --history som opfølgning i en samtale."""
    from .messages import msg
    from .records import case_note

    if fmt not in ("terminal", "text", "markdown", "json"):
        raise typer.BadParameter("--format skal være terminal, text, markdown eller json")
    flt = SearchFilter.from_user(doc_type, date_from, date_to, issuer)
    kb = _knowledge_base()
    started = time.perf_counter()
    answer = kb.ask(question, history=list(history or []), flt=flt, k=k)
    latency = (time.perf_counter() - started) * 1000
    if as_json or fmt == "json":
        typer.echo(json.dumps(answer_record(answer, None, latency, flt), ensure_ascii=False, indent=2))
        return
    if fmt in ("text", "markdown"):
        typer.echo(case_note(answer, markdown=fmt == "markdown"))
        return
    out = Console(highlight=False, emoji=False)  # document text is printed as is: no markup, no ':x:' emoji
    out.print(answer.text, markup=False)
    if answer.generation is not None and answer.generation.status in ("ok", "repaired"):
        out.print(f"({answer.generation.model}) {msg('llm_checked', answer.language)}", style="dim", markup=False)
    if answer.citations:
        out.print("\nKilder" if answer.language == "da" else "\nSources", style="bold")
        for heading, cited in ((None, answer.citations), (msg("newer_heading", answer.language), answer.newer)):
            if heading and cited:
                out.print(f"\n{heading}", style="bold")
            for c in cited:
                out.print(f"[{c.number}] {c.title} ({c.doc_type}, {c.date or 'udateret'})"
                          f"{' – ' + c.section if c.section else ''}\n    »{c.text}«", markup=False)
    elif answer.hits and not answer.error:
        out.print("\n" + msg("maybe_relevant", answer.language), style="bold")
        for h in answer.hits[:3]:
            out.print(f"- {h.chunk.meta.title}{' – ' + h.chunk.section if h.chunk.section else ''}", markup=False)


def _read_questions(path: Path) -> list[dict]:
    """A question file, or every *.jsonl file in a folder (the full set)."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    return [row for f in files for row in _read_jsonl(f)]


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise typer.BadParameter(f"{path}:{n}: ugyldig JSON: {exc}") from exc
    return rows


eval_app = _Typer(help="Mål svarkvaliteten på et spørgsmålssæt.", invoke_without_command=True)
app.add_typer(eval_app, name="eval")


@eval_app.callback()
def eval_(ctx: typer.Context,
          questions: Optional[Path] = typer.Option(None, "--questions", exists=True,
                                                   help="En JSONL-fil eller en mappe med JSONL-filer"),
          out: Optional[Path] = typer.Option(None, "--out"),
          mode: str = typer.Option("hybrid", help="hybrid | dense | bm25"),
          llm: bool = typer.Option(False, "--llm", help="Lad den konfigurerede sprogmodel skrive svarene")) -> None:
    """Kør et spørgsmålssæt og skriv én JSON-record pr. spørgsmål (kontrakten i DESIGN.md)."""
    if ctx.invoked_subcommand is not None:
        return
    if questions is None or out is None:
        raise typer.BadParameter("brug: kb eval --questions Q.jsonl --out R.jsonl")
    from evals.runner import run_questions, write_jsonl

    if llm:
        _require_llm()
    kb = _knowledge_base(mode, llm=llm)
    if kb.store.count() == 0:  # an evaluator on a fresh checkout should not need a separate step
        console.print(f"Vidensbasen er tom: indlæser {kb.settings.corpus_dir} først.")
        kb.ingest()
    rows = _read_questions(questions)
    records = run_questions(kb, rows)
    write_jsonl(out, records)
    median = statistics.median([r["latency_ms"] for r in records] or [0])
    console.print(f"{len(records)} spørgsmål -> {out} (median {median:.0f} ms)")
    if any("evidence" in row or "answerable" in row for row in rows):
        _print_report(rows, records)


@eval_app.command("compare")
def eval_compare(questions: Path = typer.Option(..., "--questions", exists=True),
                 name: str = typer.Option("retrieval", help="Rapportens navn: evals/reports/NAME.md"),
                 chunk_sizes: str = typer.Option("", help="Sammenlign chunk-størrelser i stedet, fx 500,800,1200"),
                 dense_weights: str = typer.Option("", help="Sammenlign vægte for den semantiske søgning i RRF, fx 0.5,1"),
                 llm: bool = typer.Option(False, "--llm", help="Sammenlign de citerede svar med sprogmodellens"),
                 out_dir: Path = typer.Option(Path("evals/reports"), "--out-dir")) -> None:
    """Kør navngivne konfigurationer side om side og skriv rapport (Markdown + PNG + JSON)."""
    from evals.compare import (
        chunk_size_configs,
        compare,
        default_configs,
        dense_weight_configs,
        llm_configs,
        render_markdown,
    )

    from .llm import describe

    settings = get_settings()
    if llm:
        _require_llm()
        configs = llm_configs(describe(settings.llm))
    else:  # retrieval and chunking are compared on the quoted answers
        settings = settings.override(llm_provider="none")
        if chunk_sizes:
            configs = chunk_size_configs([int(n) for n in chunk_sizes.split(",")])
        elif dense_weights:
            configs = dense_weight_configs([float(w) for w in dense_weights.split(",")])
        else:
            configs = default_configs(settings)
    payload = compare(settings, configs, _read_questions(questions), out_dir, name)
    Console().print(render_markdown(payload).split("![chart]")[0])
    console.print(f"Rapport: {out_dir / (name + '.md')}")


def _fmt(value: float | int) -> str:
    if isinstance(value, float):
        return "–" if value != value else f"{value:.3f}"  # NaN: the group has no such question
    return str(value)


def _print_report(questions: list[dict], records: list[dict]) -> None:
    from evals.metrics import GROUP_METRICS, evaluate, evaluate_groups

    report = evaluate(questions, records)
    table = Table("Metrik", "Værdi", "Fejler")
    for name, value in report.metrics.items():
        table.add_row(name, _fmt(value), " ".join(report.failures.get(name, [])))
    out = Console()
    out.print(table)
    for by in ("kind", "intent"):
        groups = evaluate_groups(questions, records, by)
        grouped = Table(by, "n", *GROUP_METRICS, title=f"Pr. {by}")
        for name, rep in groups.items():
            grouped.add_row(name, str(rep.metrics["questions"]), *(_fmt(rep.metrics[m]) for m in GROUP_METRICS))
        out.print(grouped)


@eval_app.command("report")
def eval_report(records: Path = typer.Argument(..., exists=True, dir_okay=False),
                questions: Path = typer.Option(..., "--questions", exists=True),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Beregn metrikker ud fra en eval-kørsel, også pr. slags og pr. intention, og vis de spørgsmål, der fejler."""
    from evals.metrics import evaluate, evaluate_groups

    rows, recs = _read_questions(questions), _read_jsonl(records)
    if as_json:
        report = evaluate(rows, recs)
        groups = {by: {name: rep.metrics for name, rep in evaluate_groups(rows, recs, by).items()}
                  for by in ("kind", "intent")}
        typer.echo(json.dumps({"metrics": report.metrics, "failures": report.failures, "groups": groups},
                              ensure_ascii=False))
        return
    _print_report(rows, recs)


@eval_app.command("check")
def eval_check(questions: Path = typer.Argument(..., exists=True, dir_okay=False),
               corpus: Path = typer.Option(None, "--corpus", help="Standard: KB_CORPUS_DIR")) -> None:
    """Afvis et spørgsmålssæt, hvis evidens-tekster ikke findes ordret i korpus."""
    from evals.metrics import norm

    folder = corpus or get_settings().corpus_dir
    text = norm(" ".join(p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*") if p.is_file()))
    problems = []
    for row in _read_jsonl(questions):
        if not row.get("id") or not row.get("question"):
            problems.append(f"{row.get('id', '?')}: mangler id eller question")
        for e in row.get("evidence") or []:
            if norm(e) not in text:
                problems.append(f"{row['id']}: evidens findes ikke i korpus: {e!r}")
        if row.get("answerable", True) and not row.get("evidence"):
            problems.append(f"{row['id']}: besvarligt spørgsmål uden evidens")
    for p in problems:
        console.print(f"[red]{escape(p)}[/red]")
    console.print(f"{len(problems)} problemer")
    if problems:
        raise typer.Exit(1)


@eval_app.command("gate")
def eval_gate(floors: Path = typer.Option(None, "--floors", help="Standard: evals/floors.json")) -> None:
    """Kør dev-sættet på standardkonfigurationen og fejl, hvis en metrik falder under sit gulv."""
    from evals.gate import FLOORS, run_gate

    result = run_gate(get_settings(), floors or FLOORS)
    for name, value in result.metrics.items():
        console.print(f"{name}: {value:.3f}")
    for violation in result.violations:
        console.print(f"[red]GATE: {violation}[/red]")
    console.print("Eval-gate: bestået" if result.passed else "Eval-gate: FEJLET")
    if not result.passed:
        raise typer.Exit(1)


@eval_app.command("calibrate")
def eval_calibrate(records: Path = typer.Argument(..., exists=True, dir_okay=False),
                   questions: Path = typer.Option(..., "--questions", exists=True),
                   wrong_cost: float = typer.Option(2.0, help="Hvor meget et forkert svar koster ift. en unødig afvisning")) -> None:
    """Foreslå tærsklen for at afvise (KB_ABSTAIN_THRESHOLD) ud fra en eval-kørsel."""
    from evals.calibrate import calibrate

    for cut, false_abst, wrong in calibrate(_read_questions(questions), _read_jsonl(records), wrong_cost)[:5]:
        Console().print(f"tærskel {cut:.3f}: unødige afvisninger {false_abst}, forkerte svar {wrong}")


feedback_app = _Typer(help="Brugernes 👍/👎 på svarene.")
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export(fmt: str = typer.Option("csv", "--format", help="csv eller jsonl"),
                    out: Optional[Path] = typer.Option(None, "--out", help="Fil (standard: skriv til stdout)")) -> None:
    """Eksportér feedback (personoplysninger er maskeret, før de blev gemt)."""
    from .feedback import FeedbackStore

    if fmt not in ("csv", "jsonl"):
        raise typer.BadParameter("--format skal være csv eller jsonl")
    text = FeedbackStore(get_settings().feedback_path).export(fmt)
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"Feedback skrevet til {out}")
    else:
        typer.echo(text, nl=False)


@app.command()
def doctor(check_only: bool = typer.Option(False, "--check-only", help="Kun undersøg; reparér ikke")) -> None:
    """Tjek at manifest, Chroma og BM25-indekset passer sammen, og reparér dem, hvis ikke."""
    kb = _knowledge_base()
    out = Console(highlight=False, emoji=False)

    def show(health) -> None:
        out.print(f"Generation: {health.generation}. Manifest: {health.documents} dokumenter, "
                  f"{health.manifest_chunks} tekststykker; Chroma: {health.store_chunks}; BM25: "
                  f"{'mangler' if health.lexical_chunks is None else health.lexical_chunks}.", markup=False, soft_wrap=True)
        out.print(f"Mangler i Chroma: {len(health.missing)} (dokumenter: {', '.join(health.damaged) or 'ingen'}); "
                  f"uden dokument: {len(health.orphans)}; BM25 {'afviger' if health.lexical_differs else 'passer'}; "
                  f"afbrudte indlæsninger: {len(health.leftovers)}.", markup=False, soft_wrap=True)

    health = kb.check()
    show(health)
    if health.ok:
        out.print("Alt passer sammen.")
        return
    if check_only:
        raise typer.Exit(1)
    report = kb.repair()
    out.print(f"Repareret: {len(health.orphans)} tekststykker uden dokument slettet, "
              f"{len(report.added)} dokumenter indlæst igen ({report.embedded} embeddet, "
              f"{report.embeddings_reused} fra cache), BM25 bygget forfra.", markup=False, soft_wrap=True)
    after = kb.check()
    show(after)
    if not after.ok:
        raise typer.Exit(1)


user_app = _Typer(help="Brugere, der kan logge ind i chatten (kræves, når den lytter ud over denne maskine).")
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(name: str = typer.Argument(..., help="Brugernavnet"),
             password: str = typer.Option(..., prompt="Adgangskode", hide_input=True, confirmation_prompt=True,
                                          envvar="KB_NEW_PASSWORD", help="Spørges der om, hvis den ikke er givet")) -> None:
    """Opret en bruger eller skift dens adgangskode; kun et scrypt-hash gemmes (KB_APP_USERS_FILE)."""
    from .web import save_user

    path = get_settings().users_path
    save_user(path, name, password)
    console.print(f"Brugeren {escape(name)} er gemt i {escape(str(path))}.")


@user_app.command("list")
def user_list() -> None:
    """Vis brugernavnene (aldrig adgangskoder eller hashes)."""
    from .web import Users

    settings = get_settings()
    users = Users.from_settings(settings.app, settings.users_path)
    console.print(f"{len(users)} bruger(e): " + ", ".join(escape(n) for n in users.names()), markup=True)


store_app = _Typer(help="Chroma som selvstændig server, når vidensbasen skal deles af flere maskiner.")
app.add_typer(store_app, name="store")


@store_app.command("serve")
def store_serve(path: Optional[Path] = typer.Option(None, help="Serverens datamappe (standard: DATA_DIR/chroma-server)"),
                port: Optional[int] = typer.Option(None, help="Port (standard: KB_CHROMA_PORT)"),
                host: str = typer.Option("127.0.0.1", help="Adresse; Chroma har ingen login, så hold den på "
                                                           "loopback eller bag et privat netværk")) -> None:
    """Kør Chromas server (`chroma run`) i forgrunden; stop den med Ctrl+C eller et signal til dens PID."""
    import os

    from .store import server_command

    settings = get_settings()
    path = path or settings.data_dir / "chroma-server"
    port = port or settings.store.chroma_port
    command = server_command(path, host, port)
    console.print(f"Chroma-server på http://{escape(host)}:{port}, data i {escape(str(path))}. Brug den med "
                  f"KB_CHROMA_HOST={escape(host)} KB_CHROMA_PORT={port}.")
    sys.stdout.flush()
    os.execv(command[0], command)  # the server keeps this process's PID, so it is stopped by it


@app.command()
def timeline(matter: str = typer.Argument("", help="(En del af) sagens navn; standard: alle sager")) -> None:
    """Vis en sags forløb: dokumenterne i datoorden, hver med den sætning der siger hvad det er (ordret)."""
    matters = _knowledge_base(llm=False).timeline(matter)
    out = Console(highlight=False, emoji=False)
    if not matters:
        out.print(f"Ingen sag hedder noget med »{matter}«." if matter else
                  "Ingen dokumenter har en sag (matter) i deres metadatafil.", markup=False)
        raise typer.Exit(1)
    for name, steps in matters.items():
        out.print(f"Sag: {name}", style="bold", markup=False)
        for step in steps:
            m = step.meta
            out.print(f"{m.date or 'udateret':<10}  {m.doc_type}: {m.title}\n"
                      f"            »{step.quote}« ({m.source})", markup=False, soft_wrap=True)
        out.print()


@app.command()
def info(document: str = typer.Argument("", help="Et dokuments filnavn (eller en del af titlen): vis overblikket")) -> None:
    """Vis dokumenter, antal tekststykker, model og placering af vidensbasen; med et dokument: dets overblik."""
    from .errors import EmptyStoreError

    kb = _knowledge_base()
    out = Console(highlight=False, emoji=False)  # titles and file names are printed as they are
    if document:
        _print_overview(out, kb.overview(document))
        return
    out.print(f"Model: {kb.embeddings.model_id} ({kb.embeddings.dimension} dim)")
    from .llm import describe
    from .prompts import PROMPT_ID

    if kb.writer is not None:
        out.print(f"Sprogmodel: {describe(kb.settings.llm)} (prompt {PROMPT_ID}); svarene kontrolleres mod kilderne")
    else:
        out.print("Sprogmodel: ingen (svar er ordrette citater)")
    out.print(f"Vidensbase: {kb.store.location}")
    out.print(f"Tekststykker: {kb.store.count()}")
    try:
        docs = kb.documents()
    except EmptyStoreError:
        docs = []
    out.print(f"Dokumenter: {len(docs)}")
    for d in docs:
        out.print(f"- {d.source} | {d.doc_type} | {d.date or 'udateret'} | {d.chunks} tekststykker | {d.title}",
                  soft_wrap=True, markup=False)


def _print_overview(out: Console, o) -> None:
    m = o.meta
    out.print(m.title, style="bold", markup=False)
    out.print(f"{m.doc_type} · {m.issuer or 'ukendt udgiver'} · {m.date or 'udateret'} · {m.source} · "
              f"{o.chunks} tekststykker", markup=False)
    for label, value in o.place():
        out.print(f"{label}: {value}", markup=False)
    if o.purpose:
        out.print(f"\nFormål: »{o.purpose}«", markup=False)
    if o.sections:
        out.print("\nIndhold:", style="bold")
        for section in o.sections:
            out.print(f"- {section}", markup=False)
    if o.dates:
        out.print("\nDatoer og frister:", style="bold")
        for sentence in o.dates:
            out.print(f"- »{sentence}«", markup=False)
    if o.abbreviations:
        out.print("\nForkortelser:", style="bold")
        for short, full in o.abbreviations:
            out.print(f"- {short}: {full}", markup=False)


def main() -> None:
    ensure_offline()
    try:
        _setup_logging()  # reads the settings: a setting that cannot work is reported like any user error
    except KBError as exc:
        console.print(str(exc), markup=False)
        sys.exit(1)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
