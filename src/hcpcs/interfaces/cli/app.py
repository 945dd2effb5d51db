"""The `hcpcs` command line. It only parses arguments, calls the library and renders the answer: as a
Rich card or table for people, or as the documented JSON contract with --json."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from hcpcs.core.errors import HcpcsError, InvalidInputError

app = typer.Typer(
    name="hcpcs",
    help="Official HCPCS/CPT code reference and Medicare billing rules, from CMS release files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(fn: F) -> F:
    """Turn the library's typed errors into one clear line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HcpcsError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _service(home: Path | None = None):  # noqa: ANN202
    from hcpcs.services import Hcpcs

    return Hcpcs(home)


HomeOption = Annotated[Path | None, typer.Option("--home", help="Data folder (default: $HCPCS_HOME or the per-user data folder).")]
AsOfOption = Annotated[str | None, typer.Option("--as-of", help="Date of service: YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD (default: today).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the documented JSON contract.")]


@app.command()
@friendly_errors
def update(
    source: Annotated[str | None, typer.Option("--from", help="Load from a local folder, zip, file or URL instead of CMS.")] = None,
    home: HomeOption = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip checking that a release's encodings (CSV/TXT/XLSX) agree.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Load a release even where the checks refuse it (a table without rows, a bundle lacking tables of the loaded release, values CMS could not publish).")] = False,
) -> None:
    """Load CMS releases into the store (idempotent; all or nothing; never makes the data worse).

    Without --from: downloads the published releases not loaded yet that CMS lets a program download,
    and prints what to download by hand (the files behind the AMA licence page).
    Exit status: 0 loaded (or nothing to do), 1 some downloads failed, 2 nothing was loaded (bad input,
    a refused release, a busy store, a full disk)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from hcpcs.services.update import NOTHING_CHANGED, data_folder, update_store
    from hcpcs.services.update import Progress as UpdateProgress

    home = home or data_folder()

    class RichProgress(UpdateProgress):
        def __init__(self) -> None:
            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.completed}/{task.total} releases"), TimeElapsedColumn(),
                                console=err_console, transient=False)
            self.task = None

        def download(self, name: str) -> None:
            err_console.print(f"downloading {name}", highlight=False)

        def start(self, total: int) -> None:
            self.bar.start()
            self.task = self.bar.add_task("loading", total=total)

        def release(self, label: str) -> None:
            if self.task is not None:
                if self.bar.tasks[0].description != "loading":
                    self.bar.advance(self.task)
                self.bar.update(self.task, description=f"{label}")

        def file(self, name: str) -> None:
            if self.task is not None:
                label = self.bar.tasks[0].description.split(":")[0]
                self.bar.update(self.task, description=f"{label}: {name}")

        def done(self) -> None:
            if self.task is not None:
                self.bar.update(self.task, completed=self.bar.tasks[0].total, description="done")
            self.bar.stop()

    progress = RichProgress() if err_console.is_terminal else None
    try:
        report = update_store(home, source, verify=not no_verify, progress=progress, replace=replace)
    except HcpcsError as exc:
        if progress is not None:
            progress.bar.stop()
        message = str(exc)
        if NOTHING_CHANGED not in message:
            message += f"; {NOTHING_CHANGED}"
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except BaseException:
        if progress is not None:
            progress.bar.stop()
        err_console.print("[yellow]update stopped: the data loaded before is unchanged[/]")
        raise
    for label in report.loaded:
        console.print(f"loaded     {label}")
    for label in report.unchanged:
        console.print(f"unchanged  {label}")
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    for line in report.replaced_despite:
        err_console.print(f"[yellow]replaced (--replace):[/] {line}", highlight=False, soft_wrap=True)
    for line in report.failed_downloads:
        err_console.print(f"[bold red]download failed:[/] {line}", highlight=False, soft_wrap=True)
    for line in report.manual:
        err_console.print(f"[cyan]by hand:[/] {line}", highlight=False, soft_wrap=True)
    if report.manual_more:
        err_console.print(f"[cyan]by hand:[/] {report.manual_more} older release(s) without a direct download are "
                          "not loaded either: `hcpcs releases --missing` lists them", highlight=False, soft_wrap=True)
    console.print(f"{len(report.loaded)} release(s) loaded, {len(report.unchanged)} unchanged, "
                  f"{report.rows:,} rows in {report.seconds:.1f} s into {home}")
    if report.failed_downloads:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def releases(
    home: HomeOption = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset (hcpcs, mpfs, opps, ncci_...).")] = None,
    missing: Annotated[bool, typer.Option("--missing", help="Releases CMS published that are not loaded, and where to get each.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List the loaded releases with their periods, files and row counts (or, --missing, what is not loaded)."""

    if missing:
        from hcpcs.services.update import data_folder, missing_releases

        entries = missing_releases(home or data_folder(), dataset=dataset)
        if as_json:
            _print_json(entries)
            return
        console.print(f"[bold]{len(entries)} published CMS release(s) not loaded[/]")
        for e in entries:
            how = ("hcpcs update downloads it" if e["downloadable"] else
                   f"by hand{' (AMA licence page)' if e['licence_gated'] else ''}: {e.get('release_page') or e['page']}")
            files = ", ".join(e["zip_names"] or e["files"])
            # One block per release, each line whole (soft wrap: a URL or file name is never cut).
            console.print(f"[bold]{e['label']}[/] ({e['dataset']}), {e['effective_start']} to "
                          f"{e['effective_end'] or 'next release'}", highlight=False, soft_wrap=True)
            console.print(f"  {how}", highlight=False, soft_wrap=True, markup=False)
            console.print(f"  files: {files}", highlight=False, soft_wrap=True, markup=False)
        console.print("--json gives each entry's source, and the exact download instructions (by_hand)")
        return
    hc = _service(home)
    items = [r for r in hc.releases if dataset is None or r.dataset == dataset]
    if as_json:
        _print_json([r.to_dict() for r in items])
        return
    from hcpcs.interfaces.cli.render import releases_view

    console.print(releases_view([r.to_dict() for r in items], console.width))


@app.command()
@friendly_errors
def lookup(
    code: Annotated[str, typer.Argument(help="HCPCS/CPT code or modifier, e.g. G6002, 77385, TC, 26.")],
    as_of: AsOfOption = None,
    setting: Annotated[str | None, typer.Option(
        help="Claim setting of the verdict: professional (physician fee schedule, the default) or facility "
             "(hospital outpatient, OPPS).")] = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Everything about a code on a date of service, every field decoded, headed by its verdict."""
    from hcpcs.services.reference import lookup as do_lookup

    data = do_lookup(code, as_of, hc=_service(home), setting=setting)
    if as_json:
        _print_json(data)
        return
    from hcpcs.interfaces.cli.render import lookup_card

    console.print(lookup_card(data))


@app.command()
@friendly_errors
def history(
    code: Annotated[str, typer.Argument(help="HCPCS/CPT code or modifier.")],
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """What changed for a code across the loaded releases (added, changed, discontinued)."""
    from hcpcs.services.reference import history as do_history

    data = do_history(code, hc=_service(home))
    if as_json:
        _print_json(data)
        return
    from hcpcs.interfaces.cli.render import history_table

    console.print(history_table(data))


@app.command()
@friendly_errors
def search(
    text: Annotated[str, typer.Argument(help="Words, a code, a prefix (774*) or a range (G6001-G6017).")],
    active_on: Annotated[str | None, typer.Option("--active-on", help="Only codes valid on this date.")] = None,
    betos: Annotated[str | None, typer.Option(help="Only this BETOS category, e.g. I4B.")] = None,
    type_of_service: Annotated[str | None, typer.Option("--type-of-service", help="Only this type of service.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this fee-schedule status, e.g. A.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many results (0: all).")] = 20,
    show_all: Annotated[bool, typer.Option("--all", help="Every result (same as --limit 0).")] = False,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Ranked full-text search over descriptors, or a code listing."""
    from hcpcs.interfaces.cli.render import search_table, shown_of
    from hcpcs.services.search import search as do_search

    data = do_search(text, active_on=active_on, betos=betos, type_of_service=type_of_service, status=status,
                     limit=0 if show_all else limit, hc=_service(home))
    if as_json:
        _print_json(data)
        return
    console.print(search_table(data, text))
    more = shown_of(data["count"], data["total"], data["total_exact"], "--all (or --limit 0)")
    if more:
        err_console.print(more, highlight=False)


@app.command()
@friendly_errors
def similar(
    code: Annotated[str, typer.Argument(help="HCPCS/CPT code.")],
    limit: Annotated[int, typer.Option(help="At most this many codes.")] = 15,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Codes of the same family, with why each is similar."""
    from rich.table import Table

    from hcpcs.services.search import similar as do_similar

    data = do_similar(code, limit=limit, hc=_service(home))
    if as_json:
        _print_json(data)
        return
    from hcpcs.interfaces.cli.render import validity

    table = Table(title=f"Codes similar to {data['code']} (kind of service: {data.get('family')})")
    table.add_column("code", no_wrap=True)
    table.add_column("description", ratio=1)
    table.add_column("valid", no_wrap=True)
    table.add_column("why", ratio=2)
    for r in data["similar"]:
        table.add_row(r["code"], r.get("short_description") or "",
                      validity(r.get("termination_date"), r.get("ended", False)), "; ".join(r["reasons"]))
    console.print(table)


@app.command()
@friendly_errors
def diff(
    release_a: Annotated[str, typer.Argument(help="Older release label, e.g. 'HCPCS 2020 Jan'.")],
    release_b: Annotated[str, typer.Argument(help="Newer release label, e.g. 'HCPCS 2026 Jan'.")],
    code_range: Annotated[str | None, typer.Option("--range", help="Only codes in FIRST-LAST.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many codes of each kind of change (0: all).")] = 200,
    show_all: Annotated[bool, typer.Option("--all", help="Every code (same as --limit 0).")] = False,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Codes added, discontinued, removed and changed between two releases of a dataset (--json: all of
    them, whatever --limit)."""
    from hcpcs.interfaces.cli.render import diff_lines
    from hcpcs.services.diff import diff as do_diff

    if limit < 0:
        raise InvalidInputError("--limit must be 0 (every code) or more")
    data = do_diff(release_a, release_b, code_range=code_range, hc=_service(home))
    if as_json:
        _print_json(data)
        return
    for line in diff_lines(data, None if show_all or limit == 0 else limit):
        console.print(line, highlight=False)


@app.command()
@friendly_errors
def fee(
    code: Annotated[str, typer.Argument(help="HCPCS/CPT code.")],
    modifier: Annotated[str | None, typer.Option(help="26 (professional) or TC (technical); none: global.")] = None,
    locality: Annotated[str | None, typer.Option(help="Fee-schedule locality id: MAC-locality, e.g. 01112-05.")] = None,
    state: Annotated[str | None, typer.Option(help="State (abbreviation or name) to find the locality.")] = None,
    county: Annotated[str | None, typer.Option(help="County within --state.")] = None,
    national: Annotated[bool, typer.Option("--national", help="National amount (GPCIs of 1.0).")] = False,
    setting: Annotated[str, typer.Option(help="nonfacility or facility.")] = "nonfacility",
    as_of: AsOfOption = None,
    all_localities: Annotated[bool, typer.Option("--all-localities", help="The amount in every locality.")] = False,
    output: Annotated[str, typer.Option("--format", help="For --all-localities: table, csv or json.")] = "table",
    fee_history: Annotated[bool, typer.Option("--history", help="The amount in every loaded fee-schedule release.")] = False,
    opps: Annotated[bool, typer.Option("--opps", help="Hospital outpatient (OPPS Addendum B) payment instead.")] = False,
    qp: Annotated[bool, typer.Option("--qp", help="The rendering clinician is a qualifying APM participant (from 2026 their own conversion factor).")] = False,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Medicare physician fee schedule amount (or OPPS rate) for a code, with the formula.

    Without --modifier: the grid of the locality, global / 26 / TC x non-facility / facility, with the
    participating amount, the non-participating amount and the limiting charge. Exit status 1 when the
    verdict is not payable."""
    from rich.table import Table

    from hcpcs.services import fees

    hc = _service(home)
    if opps:
        data = fees.opps_fee(code, as_of, hc=hc)
        if as_json:
            _print_json(data)
            return
        from hcpcs.interfaces.cli.render import opps_card

        console.print(opps_card(data))
        return
    if fee_history:
        items = fees.fee_history(code, modifier, locality=locality, setting=setting, qp=qp, hc=hc)
        if as_json:
            _print_json(items)
            return
        from hcpcs.interfaces.cli.render import money

        place = next((item["locality"] for item in items if item.get("in_file") and item.get("locality")), None)
        where = f"{place['name']} ({place['id']})" if place else "national"
        billed = items[0]["code"] if items and items[0].get("code") else code.upper()
        billed += f"-{items[0]['modifier']}" if items and items[0].get("modifier") else ""
        table = Table(title=f"{billed} across fee-schedule releases: {where}, {setting}", title_justify="left",
                      caption=f"RVUs: work, practice expense ({setting}), malpractice; CF: conversion factor",
                      caption_justify="left")
        for col in ("release", "from", "status", "work", "PE", "MP", "CF", "amount"):
            table.add_column(col, no_wrap=True, justify="left" if col in ("release", "from", "status") else "right")
        for item in items:
            if not item.get("in_file"):
                table.add_row(item["release"], item["effective_start"], item.get("reason") or "not in file",
                              "", "", "", "", "")
                continue
            rv = item["rvus"]
            amount = money(item["amount"]) if item["amount"] is not None else "NA" if item.get("na") else "—"
            table.add_row(item["release"], item["effective_start"], item["status"]["code"],
                          *(f"{rv[part]:.2f}" if rv[part] is not None else "—" for part in ("work", "pe", "mp")),
                          f"{item['conversion_factor']:.4f}", amount)
        console.print(table)
        return
    if all_localities:
        data = fees.all_localities(code, modifier, setting=setting, as_of=as_of, qp=qp, hc=hc)
        if as_json or output == "json":
            _print_json(data)
            return
        if output == "csv":
            import csv

            writer = csv.writer(sys.stdout)
            writer.writerow(["locality_id", "locality_name", "state", "amount", "opps_cap_applied",
                             "nonparticipating_amount", "limiting_charge", "na"])
            from hcpcs.interfaces.cli.render import cents

            for item in data["localities"]:
                loc = item["locality"]
                writer.writerow([loc["id"], loc["name"], loc["state"], cents(item["amount"]), item["opps_cap_applied"],
                                 cents(item["nonparticipating_amount"]), cents(item["limiting_charge"]), item["na"]])
            return
        table = Table(title=f"{data['code']} {setting} amounts by locality ({data['release']})")
        for col in ("locality", "name", "state", "amount", "OPPS cap"):
            table.add_column(col)
        for item in data["localities"]:
            loc = item["locality"]
            amount = f"${item['amount']:,.2f}" if item["amount"] is not None else "NA" if item["na"] else "—"
            table.add_row(loc["id"], loc["name"], loc["state"] or "", amount, "applied" if item["opps_cap_applied"] else "")
        console.print(table)
        return
    data = fees.fee(code, modifier, locality=locality, state=state, county=county, national=national,
                    setting=setting, as_of=as_of, qp=qp, hc=hc)
    if as_json:
        _print_json(data)
        return
    from hcpcs.interfaces.cli.render import fee_card

    console.print(fee_card(data, console.width))
    if data["verdict"]["code"] != "payable":
        raise typer.Exit(1)


@app.command()
@friendly_errors
def edits(
    code: Annotated[str, typer.Argument(help="HCPCS/CPT code.")],
    as_of: AsOfOption = None,
    setting: Annotated[str, typer.Option(help="professional (practitioner tables) or facility (hospital).")] = "professional",
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Every NCCI edit naming a code on a date: PTP both directions, MUE, add-on."""
    from rich.table import Table

    from hcpcs.services.listing import edits_for_code

    data = edits_for_code(code, as_of=as_of, setting=setting, hc=_service(home))
    if as_json:
        _print_json(data)
        return
    ptp = data.get("ptp")
    if ptp:
        for key, title in (("as_column1", "as column 1 (bundles the column 2 code)"),
                           ("as_column2", "as column 2 (bundled into the column 1 code)")):
            table = Table(title=f"{data['code']} {title}: {len(ptp[key])} edit(s), {ptp['release']}")
            for col in ("column 1", "column 2", "modifier", "effective", "deleted", "rationale"):
                table.add_column(col)
            for e in ptp[key]:
                table.add_row(e["column1"], e["column2"], e["modifier_indicator"]["code"],
                              e["effective_date"] or "", e["deletion_date"] or "", e["rationale"] or "")
            console.print(table)
    if data.get("mue"):
        m = data["mue"]
        console.print(f"MUE: {m['units']} unit(s), MAI {m['mai']['code']}: {m['mai']['meaning']} ({m['release']})")
    addon = data.get("addon")
    if addon and addon["primaries"]:
        console.print(f"Add-on code; primaries: {', '.join(p['code'] for p in addon['primaries'])} ({addon['release']})")
    if addon and addon["addons"]:
        console.print(f"Primary for add-ons: {', '.join(p['code'] for p in addon['addons'])}")
    for notice in data["notices"]:
        err_console.print(f"[yellow]notice:[/] {notice}", highlight=False)


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="Claims: JSON, JSON array, JSON Lines, CSV, Parquet or X12 837P/837I; "
                                              "'-' for stdin.")],
    output: Annotated[str, typer.Option("--format", help="table, json, jsonl, csv or parquet.")] = "table",
    output_path: Annotated[Path | None, typer.Option("--output", "-o", help="Write the results here (a folder for "
                                                     "parquet) instead of standard output.")] = None,
    input_format: Annotated[str | None, typer.Option("--input-format", help="json, jsonl, csv, parquet or x12 "
                                                     "(default: detect).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Check every line against the rules in force on this "
                                              "date instead of its date of service.")] = None,
    policy: Annotated[list[str] | None, typer.Option("--policy", help="Policy pack: built-in name or TOML file "
                                                     "(repeatable).")] = None,
    no_policy: Annotated[list[str] | None, typer.Option("--no-policy", help="Turn off a default policy pack "
                                                        "(name or id; 'all' for every one).")] = None,
    engine: Annotated[str, typer.Option(help="single (claim by claim), batch (column-wise), auto (batch for "
                                             "large chunks) or spark (Apache Spark: Parquet or JSON Lines in, "
                                             "a Parquet folder out); the findings are the same.")] = "auto",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Table: each finding's CMS definitions (why) and "
                                                                        "fix.")] = False,
    home: HomeOption = None,
    output_dir: Annotated[Path | None, typer.Argument(help="--engine spark: the folder that receives findings/, "
                                                           "notices/ and errors/ (or name it with --output).",
                                                      show_default=False)] = None,
    master: Annotated[str | None, typer.Option("--master", help="--engine spark: the Spark master (local[*], "
                                               "spark://host:7077...; default local[*]; under spark-submit run "
                                               "hcpcs.spark.submit instead).")
                      ] = None,
    ship_store: Annotated[bool, typer.Option("--ship-store", help="--engine spark: copy the store to every node "
                                             "(SparkContext.addFile) instead of reading it at the same path on "
                                             "each.")] = False,
) -> None:
    """Check claims against the Medicare edits in force on each date of service, reading and writing as a
    stream (any input size, bounded memory).

    Exit status: 0 no claim has an error finding, 1 some have, 2 some record could not be read (the others
    are still checked and reported) or the input is not readable at all."""
    try:
        if engine == "spark":
            code = _check_on_spark(file, output_dir or output_path, input_format, as_of, policy or [],
                                   no_policy or [], home, master, ship_store)
        elif output_dir is not None:
            from hcpcs.core.errors import InvalidInputError

            raise InvalidInputError(f"{output_dir}: an output folder argument goes with --engine spark; name "
                                    "the output with --output otherwise")
        else:
            code = _check(file, output, output_path, input_format, as_of, policy or [], home, engine, verbose,
                          no_policy or [])
    except HcpcsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def _check_on_spark(file: Path, output_dir: Path | None, input_format: str | None, as_of: str | None,
                    policy: list[str], no_policy: list[str], home: Path | None, master: str | None,
                    ship_store: bool) -> int:
    """`hcpcs check --engine spark INPUT OUTPUT_DIR`: Spark reports its progress on stderr."""
    from hcpcs import spark as hcpcs_spark
    from hcpcs.core.errors import InvalidInputError

    if output_dir is None:
        raise InvalidInputError("--engine spark writes a folder (findings/, notices/, errors/): name it after the "
                                "input or with --output")
    if output_dir.exists() and any(output_dir.iterdir()):
        raise InvalidInputError(f"{output_dir}: the output folder exists and is not empty")
    summary = hcpcs_spark.check_file(file, output_dir, master=master or "local[*]", input_format=input_format, as_of=as_of,
                                     policy=policy, no_policy=no_policy, store=home, ship_store=ship_store)
    findings = summary["findings"]
    err_console.print(
        f"{summary['records']:,} record(s): {summary['claims_with_errors']:,} with an error finding; findings "
        + (", ".join(f"{count:,} {severity}" for severity, count in sorted(findings.items())) or "none")
        + (f"; {summary['bad_records']:,} could not be read" if summary["bad_records"] else "")
        + f" -> {output_dir}", highlight=False)
    if summary["bad_records"]:
        return 2
    return 1 if summary["claims_with_errors"] else 0


def _check(file: Path, output: str, output_path: Path | None, input_format: str | None, as_of: str | None,
           policy: list[str], home: Path | None, engine: str, verbose: bool, no_policy: list[str]) -> int:
    from hcpcs.core.errors import InvalidInputError
    from hcpcs.services import checking, outputs

    if str(file) != "-" and not file.exists():
        raise InvalidInputError(f"{file}: no such file")
    if engine not in checking.ENGINES:
        raise InvalidInputError(f"--engine {engine!r}: use {', '.join(checking.ENGINES)}")
    source: Any = sys.stdin.buffer if str(file) == "-" else file
    name = "<stdin>" if str(file) == "-" else str(file)
    writer = None
    target = None
    if output != "table":
        module = outputs.writer(output)
        if getattr(module, "NEEDS_FOLDER", False):
            if output_path is None:
                raise InvalidInputError(f"--format {output} writes a folder of files: name it with --output")
            writer = module.Writer(output_path)
        else:
            target = output_path.open("wb") if output_path else sys.stdout.buffer
            writer = module.Writer(target)

    def show(chunk: Any) -> None:
        from hcpcs.interfaces.cli.render import check_report

        console.print(check_report(chunk, verbose=verbose))

    try:
        summary = checking.check_stream(source, writer, input_format=input_format, name=name, hc=_service(home),
                                        as_of=as_of, packs=policy, no_packs=no_policy, engine=engine,
                                        on_chunk=show if output == "table" else None)
    finally:
        if target is not None and target is not sys.stdout.buffer:
            target.close()
    if output == "table" or output_path is not None:
        verdicts = ", ".join(f"{count:,} {code.replace('_', ' ')}" for code, count in sorted(summary.verdicts.items()))
        err_console.print(f"{summary.claims:,} record(s): {verdicts or 'none checked'}"
                          + (f"; {summary.bad_records:,} could not be read" if summary.bad_records else ""),
                          highlight=False)
    return summary.exit_status


@app.command()
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    home: HomeOption = None,
) -> None:
    """Serve the REST API, the web pages and the FHIR operations from the store (read-only)."""
    from hcpcs.interfaces.web import server

    console.print(f"hcpcs serving on http://{host}:{port}/ (API docs at /docs)")
    server.run(host, port, home)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
