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

from hcpcs.errors import HcpcsError

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
    from hcpcs.service import Hcpcs

    return Hcpcs(home)


HomeOption = Annotated[Path | None, typer.Option("--home", help="Data folder (default: $HCPCS_HOME or the per-user data folder).")]
AsOfOption = Annotated[str | None, typer.Option("--as-of", help="Date of service, YYYY-MM-DD (default: today).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the documented JSON contract.")]


@app.command()
@friendly_errors
def update(
    source: Annotated[str | None, typer.Option("--from", help="Load from a local folder, zip, file or URL instead of CMS.")] = None,
    home: HomeOption = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip checking that a release's encodings (CSV/TXT/XLSX) agree.")] = False,
) -> None:
    """Load CMS releases into the store (idempotent; all or nothing)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from hcpcs.store.db import default_home, open_store
    from hcpcs.update import Progress as UpdateProgress
    from hcpcs.update import run_update

    home = home or default_home()
    store = open_store(home, readonly=False)

    class RichProgress(UpdateProgress):
        def __init__(self) -> None:
            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.completed}/{task.total} releases"), TimeElapsedColumn(),
                                console=err_console, transient=False)
            self.task = None

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
        report = run_update(store, source, verify=not no_verify, progress=progress)
    except BaseException:
        if progress is not None:
            progress.bar.stop()
        err_console.print("[yellow]update failed: the data loaded before it is unchanged[/]")
        raise
    finally:
        store.close()
    for label in report.loaded:
        console.print(f"loaded     {label}")
    for label in report.unchanged:
        console.print(f"unchanged  {label}")
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for line in report.manual:
        err_console.print(f"[cyan]by hand:[/] {line}", highlight=False)
    console.print(f"{len(report.loaded)} release(s) loaded, {len(report.unchanged)} unchanged, "
                  f"{report.rows:,} rows in {report.seconds:.1f} s into {home}")


@app.command()
@friendly_errors
def releases(
    home: HomeOption = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset (hcpcs, mpfs, opps, ncci_...).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the loaded releases with their periods, files and row counts."""
    from rich.table import Table

    hc = _service(home)
    items = [r for r in hc.releases if dataset is None or r.dataset == dataset]
    if as_json:
        _print_json([r.to_dict() for r in items])
        return
    table = Table(title="Loaded CMS releases")
    for col in ("dataset", "release", "effective", "rows", "files", "loaded"):
        table.add_column(col)
    for r in items:
        rows = ", ".join(f"{k} {v:,}" for k, v in r.row_counts.items())
        period = f"{r.effective_start} to {r.effective_end or 'next release'}"
        files = ", ".join(sorted({f["name"] for f in r.source_files}))
        table.add_row(r.dataset, r.label, period, rows, files, r.loaded_at)
    console.print(table)


@app.command()
@friendly_errors
def lookup(
    code: Annotated[str, typer.Argument(help="HCPCS/CPT code or modifier, e.g. G6002, 77385, TC, 26.")],
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Everything about a code on a date of service, every field decoded."""
    from hcpcs.reference import lookup as do_lookup

    data = do_lookup(code, as_of, hc=_service(home))
    if as_json:
        _print_json(data)
        return
    from hcpcs.render import lookup_card

    console.print(lookup_card(data))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
