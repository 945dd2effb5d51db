"""Rich renderings of library answers for the terminal (the CLI's human form)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

WIDE = 120  # from this many columns a listing of many fields is a table; narrower, one block per item


def first_sentence(text: str, limit: int = 140) -> str:
    """The gist of a long CMS definition, for a compact card (the JSON keeps the full text)."""
    head = text.split(". ")[0].rstrip(".")
    if len(head) > limit:
        head = head[: limit - 1].rsplit(" ", 1)[0] + "…"
    return head + ("." if not head.endswith("…") else "")


def _coded(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict) and "code" in value:
        meaning = value.get("meaning")
        return f"{value['code']}: {first_sentence(meaning)}" if meaning else str(value["code"])
    if isinstance(value, list):
        return "; ".join(_coded(v) for v in value) if value else "—"
    return str(value)


def _kv(title: str, rows: list[tuple[str, Any]]) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, value in rows:
        table.add_row(key, _coded(value))
    return Panel(table, title=title, title_align="left")


# The verdict's colour (green / amber / red / grey, as on the web page) as a Rich style.
VERDICT_STYLES = {"payable": "bold white on green", "not_payable": "bold black on dark_orange",
                  "invalid": "bold white on red", "unknown": "bold white on grey46"}


def verdict_headline(code: str, verdict: dict[str, Any] | None, kind: str | None = None) -> Text:
    """`CODE  LABEL  meaning`: the answer's verdict, coloured, first on the card."""
    from hcpcs.services.verdicts import LABELS

    headline = Text(f" {code} ", style="bold reverse")
    if not verdict:
        return headline
    label = "Valid modifier" if kind == "modifier" and verdict["code"] == "payable" else LABELS[verdict["code"]]
    headline.append("  ")
    headline.append(f" {label} ", style=VERDICT_STYLES.get(verdict["code"], "bold"))
    headline.append(f"  {verdict['meaning']}")
    return headline


def report_instead_panel(data: dict[str, Any]) -> Panel | None:
    """What to bill instead, grouped as the guidance rows are, each with its dates, setting and source; when
    the code is not payable or not valid and no guidance is known, says so."""
    from hcpcs.core.guidance import either, group_entries, period_words

    rows = data.get("report_instead") or []
    verdict = (data.get("verdict") or {}).get("code")
    if not rows:
        if verdict in ("not_payable", "invalid") and data.get("kind") != "modifier":
            return Panel(Text("No replacement guidance is known for this code on this date; hcpcs does not guess one."),
                         title="Report instead", title_align="left", border_style="dim")
        return None
    body = Text()
    for group in group_entries(rows):
        if body:
            body.append("\n\n")
        billed = group["replaces"] + (f"-{group['modifier']}" if group["modifier"] else "")
        body.append(either(group["codes"]), style="bold")
        body.append(f" instead of {billed}, {group['setting_words']}, {period_words(group['from'], group['to'])}\n")
        body.append(group["note"])
        for source in group["sources"]:
            body.append(f"\n• {source['title'].split(': ')[0]}" + (f" {source['url']}" if source["url"] else ""),
                        style="dim")
    return Panel(body, title="Report instead", title_align="left",
                 border_style="yellow" if verdict in ("not_payable", "invalid") else "blue")


def lookup_card(data: dict[str, Any]) -> Group:
    modifier = data.get("modifier")
    billed = f"{data['code']}-{modifier['code']}" if modifier else data["code"]
    parts: list[Any] = [verdict_headline(billed, data.get("verdict"), data.get("kind"))]
    valid = data.get("valid_on_date")
    instead = report_instead_panel(data)
    if instead is not None:
        parts.append(instead)
    parts.append(_kv("Descriptors", [
        ("Kind", data["kind"]),
        *([("Modifier", f"{modifier['code']}: {modifier['meaning'] or 'not in the loaded modifier list'}")]
          if modifier else []),
        ("Long", data.get("long_description")),
        ("Short", data.get("short_description")),
        ("From", data.get("descriptor_source")),
    ]))
    if data["kind"] != "modifier" or data.get("action"):
        parts.append(_kv(f"Status on {data['as_of']}", [
            ("Valid code", "yes" if valid else "no" if valid is False else "unknown"),
            ("Added", data.get("added_date")),
            ("Action", data.get("action")),
            ("Action effective", data.get("action_effective_date")),
            ("Terminated", data.get("termination_date")),
        ]))
    if data.get("hcpcs_release"):
        parts.append(_kv("HCPCS payment indicators", [
            ("Pricing", data.get("pricing_indicators")),
            ("Multiple pricing", data.get("multiple_pricing_indicator")),
            ("Coverage", data.get("coverage")),
            ("BETOS", data.get("betos")),
            ("Type of service", data.get("type_of_service")),
            ("Processing note", (f"{data['processing_note']['number']}: {data['processing_note']['text']}"
                                 if data.get("processing_note") else None)),
            ("Cross references", ", ".join(data.get("cross_references") or []) or None),
            ("Lab certification", data.get("lab_certifications")),
            ("CIM / MCM", ", ".join((data.get("cim_references") or []) + (data.get("mcm_references") or [])) or None),
            ("Statute", data.get("statute")),
            ("ASC group", (data.get("asc_group") or {}).get("code")),
            ("Anesthesia base units", data.get("anesthesia_base_units")),
        ]))
    mpfs = data.get("mpfs")
    if mpfs and mpfs.get("in_file"):
        parts.append(_kv(f"Physician fee schedule ({mpfs['release']})", [
            ("Status", mpfs["status"]),
            ("PC/TC", mpfs["pctc"]),
            ("Modifier 26", "allowed" if mpfs["modifier_26_allowed"] else "not allowed"),
            ("Modifier TC", "allowed" if mpfs["modifier_tc_allowed"] else "not allowed"),
            ("Global days", mpfs["global_days"]),
            ("Work RVU", mpfs["work_rvu"]),
            ("Multiple procedure", mpfs["multiple_procedure"]),
            ("Bilateral", mpfs["bilateral"]),
            ("Assistant", mpfs["assistant_surgery"]),
            ("Co-surgery", mpfs["co_surgery"]),
            ("Team surgery", mpfs["team_surgery"]),
            ("Supervision", mpfs["physician_supervision"]),
        ]))
        rvus = Table(title="RVUs by modifier", title_justify="left")
        for col in ("row", "status", "work", "PE non-fac", "PE fac", "MP", "total non-fac", "total fac"):
            rvus.add_column(col)
        for name, row in mpfs["by_modifier"].items():
            rvus.add_row(name, (row["status"] or {}).get("code", ""), str(row["work_rvu"]),
                         str(row["nonfacility_pe_rvu"]), str(row["facility_pe_rvu"]), str(row["mp_rvu"]),
                         str(row["nonfacility_total"]), str(row["facility_total"]))
        parts.append(rvus)
    opps = data.get("opps")
    if opps and opps.get("in_file"):
        parts.append(_kv(f"Hospital outpatient ({opps['release']})", [
            ("Status indicator", opps["status_indicator"]),
            ("APC", opps["apc"]),
            ("Relative weight", opps["relative_weight"]),
            ("Payment rate", opps["payment_rate"]),
        ]))
    rows: list[tuple[str, Any]] = []
    for setting, mue in (data.get("mue") or {}).items():
        if mue:
            rows.append((f"MUE {setting}", f"{mue['units']} unit(s), {_coded(mue['mai'])} ({mue['release']})"))
    addon = data.get("addon")
    if addon:
        if addon["is_addon"]:
            rows.append(("Add-on code", f"{_coded(addon['edit_type'])}; primaries: "
                         + (", ".join(addon["primary_codes"][:20]) or "—")))
        if addon["addons_of_this_primary"]:
            rows.append(("Primary for add-ons", ", ".join(addon["addons_of_this_primary"][:20])))
    for setting, ptp in (data.get("ptp") or {}).items():
        if ptp:
            rows.append((f"PTP {setting}", f"column 1 of {ptp['as_column1']:,} edits, column 2 of "
                         f"{ptp['as_column2']:,} ({ptp['release']}; `hcpcs edits {data['code']}` lists them)"))
    if rows:
        parts.append(_kv("Bundling and unit limits", rows))
    if data.get("notices"):
        parts.append(Panel("\n".join(f"• {n}" for n in data["notices"]), title="Notices", title_align="left",
                           border_style="yellow"))
    if data.get("sources"):
        # File names have no spaces to wrap at: their column keeps its width and the words wrap instead.
        src = Table.grid(padding=(0, 2))
        longest_word = max((len(word) for s in data["sources"] for word in s["what"].split()), default=0)
        src.add_column(ratio=1, min_width=longest_word)
        src.add_column(ratio=1)
        src.add_column(no_wrap=True, min_width=max((len(name) for s in data["sources"] for name in s["files"]),
                                                   default=0))
        for s in data["sources"]:
            src.add_row(s["what"], s["release"], "\n".join(s["files"]))
        parts.append(Panel(src, title="Sources", title_align="left"))
    return Group(*parts)


_VERDICT_STYLES = {"payable": "bold white on green", "not_payable": "bold black on yellow",
                   "invalid": "bold white on red", "unknown": "bold white on grey50"}


def cents(value: float | None) -> str:
    """An amount for a CSV cell: always two decimals (99.10, not 99.1); "" for none."""
    return f"{value:.2f}" if value is not None else ""


def money(value: float | None, na: bool = False) -> str:
    if na:
        return "NA"
    return f"${value:,.2f}" if value is not None else "—"


def fee_grid_table(grid: dict[str, Any], width: int = WIDE) -> Table:
    """Global / 26 / TC x non-facility / facility: participating, non-participating, limiting charge; on a
    narrow terminal (80 columns) with short headings that a caption explains, so no heading is cut."""
    loc = grid["locality"]
    narrow = width < 100
    table = Table(title=f"{loc['name']} ({loc['id']}), {grid['release']}, conversion factor "
                        f"{grid['conversion_factor']}", title_justify="left",
                  caption="NF: non-facility, F: facility; 26: professional component, TC: technical component"
                  if narrow else None, caption_justify="left")
    table.add_column("billed as", no_wrap=True)
    for setting in (("NF", "F") if narrow else ("Non-facility", "Facility")):
        for what in ("par", "non-par", "limiting"):
            table.add_column(f"{setting}\n{what}", justify="right", no_wrap=True)
    names = ({None: "global", "26": "26", "TC": "TC"} if narrow
             else {None: "global", "26": "-26 (professional)", "TC": "-TC (technical)"})
    for row in grid["rows"]:
        cells = []
        for setting in ("nonfacility", "facility"):
            cell = row[setting]
            for key in ("amount", "nonparticipating_amount", "limiting_charge"):
                cells.append(money(cell[key], cell["na"]) + ("ᶜ" if key == "amount" and cell["opps_cap_applied"] else ""))
        status = (row["status"] or {}).get("code", "")
        table.add_row(f"{names.get(row['modifier'], '-' + str(row['modifier']))} [{status}]", *cells)
    return table


def fee_card(data: dict[str, Any], width: int = 120) -> Group:
    loc = data["locality"]
    name = f"{data['code']}{'-' + data['modifier'] if data['modifier'] else ''}"
    amount = money(data["amount"], data.get("na", False)) if data["amount"] is not None or data.get("na") else "no amount"
    title = Text(f" {name} ", style="bold reverse")
    title.append(f"  {amount}", style="bold green" if data["payable"] else "bold red")
    verdict = data.get("verdict")
    if verdict:
        title.append("  ")
        title.append(f" {verdict['code'].replace('_', ' ')} ", style=_VERDICT_STYLES.get(verdict["code"], "bold"))
    basis = data.get("conversion_factor_basis") or {}
    rows = [
        ("Locality", f"{loc['id']} {loc['name']}"),
        ("Setting", data["setting"]),
        ("Date of service", data["as_of"]),
        ("Release", f"{data['release']} (conversion factor {data['conversion_factor']})"),
        ("Conversion factor", basis.get("meaning")),
        ("Status", data["status"]),
        ("Verdict", verdict["meaning"] if verdict else None),
        ("Payable", "yes" if data["payable"] else f"no: {first_sentence(data['reason'] or '', 300)}"),
        ("Non-participating", money(data.get("nonparticipating_amount"), data.get("na", False))),
        ("Limiting charge", money(data.get("limiting_charge"), data.get("na", False))),
        ("RVUs", f"work {data['rvus']['work']}, PE {data['rvus']['pe']}, MP {data['rvus']['mp']}"),
        ("GPCIs", f"work {data['gpci']['work']}, PE {data['gpci']['pe']}, MP {data['gpci']['mp']}"),
        ("Formula", data["formula"]),
        ("OPPS cap", ("applied" if data["opps_cap_applied"] else "not applied")
         + (f" (OPPS-based amount ${data['opps_cap_amount']:,.2f})" if data["opps_cap_amount"] is not None else "")),
    ]
    parts: list[Any] = [title, _kv("Physician fee schedule", rows)]
    grid = data.get("grid")
    if grid:
        parts.append(fee_grid_table(grid, width))
        parts.append(Text("par: participating (fee schedule amount); non-par: 95 %; limiting: 115 % of non-par; "
                          "NA: not payable in that setting; ᶜ OPPS cap applied. " + grid["limiting_charge_note"],
                          style="dim"))
    if data.get("notices"):
        parts.append(Panel("\n".join(f"• {n}" for n in data["notices"]), title="Notices", title_align="left",
                           border_style="yellow"))
    return Group(*parts)


def opps_card(data: dict[str, Any]) -> Group:
    rows = [
        ("Release", data["release"]),
        ("Status indicator", data["status_indicator"]),
        ("Separately paid", data["separately_paid"]),
        ("Note", data["note"]),
        ("APC", data["apc"]),
        ("Relative weight", data["relative_weight"]),
        ("National payment rate", f"${data['payment_rate']:,.2f}" if data["payment_rate"] is not None else None),
        ("National unadjusted copayment", data["national_unadjusted_copayment"]),
        ("Minimum unadjusted copayment", data["minimum_unadjusted_copayment"]),
    ]
    parts: list[Any] = [_kv(f"{data['code']} hospital outpatient (OPPS) on {data['as_of']}", rows)]
    if data.get("notices"):
        parts.append(Panel("\n".join(f"• {n}" for n in data["notices"]), title="Notices", border_style="yellow"))
    return Group(*parts)


def check_report(chunk: Any, *, verbose: bool = False) -> Group:
    """The claims of a checked chunk for people: per claim its verdict, then a table of its lines, each
    finding shown on the line it denies or questions (a PTP edit on the column 2 code's line), in one
    sentence (`verbose`: also the CMS definitions behind it, `details`, and its fix)."""
    from hcpcs.services.verdicts import LABELS

    styles = {"error": "bold red", "warning": "yellow", "info": "cyan"}
    verdict_styles = {"payable": "green", "not_payable": "yellow", "invalid": "bold red", "unknown": "dim"}
    rank = {"error": 0, "warning": 1, "info": 2}
    findings: dict[int, list[dict[str, Any]]] = {}
    for row in chunk.findings.iter_rows(named=True):
        findings.setdefault(row["claim"], []).append(row)
    lines: dict[int, list[dict[str, Any]]] = {}
    for row in chunk.lines.iter_rows(named=True):
        lines.setdefault(row["claim"], []).append(row)
    verdicts = {row["claim"]: row for row in chunk.verdicts.iter_rows(named=True)}
    parts: list[Any] = []
    for record in chunk.claims.iter_rows(named=True):
        position = record["claim"]
        if record["error_message"] is not None:
            parts.append(Text(f"Record {record['claim_id'] or record['record'] or position + 1}: not read "
                              f"({record['error_location']}): {record['error_message']}", style="bold red"))
            continue
        claim_lines = lines.get(position, [])
        verdict = verdicts.get(position)
        first = claim_lines[0] if claim_lines else {}
        title = Text(f"Claim {record['claim_id']} ({first.get('setting', '')}, {first.get('dos', '')}): ")
        if verdict:
            title.append(LABELS.get(verdict["verdict"], verdict["verdict"]),
                         style=verdict_styles.get(verdict["verdict"], ""))
            title.append(f". {verdict['verdict_meaning']}")
        table = Table(title=title, title_justify="left", expand=False)
        for column in ("line", "code", "mods", "units", "severity", "finding"):
            table.add_column(column, overflow="fold" if column == "finding" else "ellipsis",
                             no_wrap=column != "finding")
        by_line: dict[int, list[dict[str, Any]]] = {}
        claim_level: list[dict[str, Any]] = []
        codes_by_line = {row["line"]: row["code"] for row in claim_lines}
        for finding in findings.get(position, []):
            denied = finding["codes"][-1] if finding["codes"] else None
            shown = [i for i in finding["lines"] if codes_by_line.get(i) == denied] or list(finding["lines"])
            if not shown:
                claim_level.append(finding)
            for index in shown:
                by_line.setdefault(index, []).append(finding)
        for row in claim_lines:
            on_line = sorted(by_line.get(row["line"], []), key=lambda f: rank.get(f["severity"], 3))
            severity = on_line[0]["severity"] if on_line else ""
            text = Text()
            for finding in on_line:
                if text:
                    text.append("\n")
                text.append(finding["rule"], style=styles.get(finding["severity"], ""))
                text.append(" " + (finding["message"] if verbose else first_sentence(finding["message"], 400)))
                if verbose and finding.get("details"):
                    text.append(f"\n  why: {finding['details']}", style="dim")
                if verbose and finding.get("fix"):
                    text.append(f"\n  fix: {finding['fix']}", style="dim")
            units = row["units"]
            minutes = row.get("minutes")
            table.add_row(str(row["line"] + 1), row["code"], " ".join(row["modifiers"] or []),
                          f"{minutes} min" if minutes is not None else f"{units:g}",
                          Text(severity, style=styles.get(severity, "")), text or Text("—", style="dim"))
        parts.append(table)
        for finding in claim_level:
            message = finding["message"] if verbose else first_sentence(finding["message"], 400)
            parts.append(Text(f"  {finding['severity']} {finding['rule']}: {message}",
                              style=styles.get(finding["severity"], "")))
            if verbose and finding.get("details"):
                parts.append(Text(f"    why: {finding['details']}", style="dim"))
    return Group(*parts)


# ------------------------------------------------------------------------------------------- listings


def shown_of(shown: int, total: int, exact: bool = True, how_all: str = "--all") -> str | None:
    """The line under a listing cut by a limit: `showing N of M ...; --all shows every one`; None when
    nothing was left out."""
    if shown >= total and exact:
        return None
    of = f"{total:,}" if exact else f"at least {total:,}"
    return f"showing {shown:,} of {of}; {how_all} shows every one"


def validity(termination_date: str | None, ended: bool) -> Text:
    """A code's validity in a listing: `ended 2025-12-31` (in red) for a terminated code, whatever status
    its last fee-schedule row had."""
    if ended and termination_date:
        return Text(f"ended {termination_date}", style="red")
    if termination_date:
        return Text(f"until {termination_date}")
    return Text("valid")


def search_table(data: dict[str, Any], text: str) -> Table:
    found = data["total"] if data["total_exact"] else f"{data['total']:,}+"
    counted = f"{data['count']} of {found}" if data["count"] < data["total"] or not data["total_exact"] else str(found)
    table = Table(title=f"{counted} result(s) for {text!r}", caption="status: fee-schedule status in the newest "
                  "release carrying the code (--json names it)", caption_justify="left")
    table.add_column("code", no_wrap=True)
    table.add_column("description", ratio=1)
    table.add_column("BETOS", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("valid", no_wrap=True)
    for r in data["results"]:
        table.add_row(r["code"], r.get("long_description") or r.get("short_description") or "",
                      r.get("betos") or "", r.get("status") or "", validity(r.get("termination_date"), r.get("ended", False)))
    return table


def plain(value: Any) -> str:
    """A stored value as people read it: "—" for none, lists joined, numbers as written."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(v) for v in value)
    return str(value)


def change_text(change: dict[str, Any]) -> Text:
    """`Label: old → new`, each coded value with its meaning (first sentence)."""
    def side(key: str) -> str:
        meaning = change.get(f"{key}_meaning")
        return plain(change[key]) + (f" ({first_sentence(meaning, 60)})" if meaning else "")

    from hcpcs.services.reference import field_label

    text = Text(f"{change.get('label') or field_label(change['field'])}: ", style="bold")
    text.append(f"{side('old')} → {side('new')}")
    return text


def history_table(data: dict[str, Any]) -> Table:
    """One row per release event; the fields that changed in it, one a line, by their plain names."""
    table = Table(title=f"History of {data['code']}", title_justify="left")
    table.add_column("release", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("what", ratio=1)
    for event in data["events"]:
        changes = event.get("changes") or []
        what = Text("\n").join(change_text(c) for c in changes) if changes else Text(event.get("detail") or "")
        table.add_row(f"{event['release']}\nfrom {event['effective']}", event["event"], what)
    return table


def diff_lines(data: dict[str, Any], limit: int | None) -> list[Text]:
    """`hcpcs diff` for people: the counts, then each kind of change, at most `limit` codes of each with a
    `showing N of M` line where some are left out."""
    counts = data["counts"]
    out = [Text.assemble((f"{data['from']} -> {data['to']}", "bold"),
                         f": {counts['added']:,} added, {counts['discontinued']:,} discontinued, "
                         f"{counts['removed']:,} removed, {counts['changed']:,} changed")]
    sections = (
        ("added", lambda code: code),
        ("discontinued", lambda item: f"{item['code']} (ended {item['termination_date']})"),
        ("removed", lambda code: code),
        ("changed", lambda item: f"{item['code']}: " + ", ".join(
            c.get("label") or c["field"] for c in item["changes"])),
    )
    for kind, words in sections:
        items = data[kind]
        shown = items if limit is None else items[:limit]
        for item in shown:
            out.append(Text(f"  {kind:<13} {words(item)}"))
        more = shown_of(len(shown), len(items), how_all="--all (or --limit 0)")
        if more:
            out.append(Text(f"  {kind}: {more}", style="yellow"))
    return out



def releases_view(releases: list[dict[str, Any]], width: int) -> Table:
    """The loaded releases: a table on a wide terminal; on a narrow one (80 columns) one block per release,
    so that file names are never cut (each is one word on its own line when it has to be)."""
    def period(r: dict[str, Any]) -> str:
        return f"{r['effective_start']} to {r['effective_end'] or 'next release'}"

    def files(r: dict[str, Any]) -> list[str]:
        return sorted({f["name"] for f in r["source_files"]})

    def loaded(r: dict[str, Any]) -> str:
        return r["loaded_at"][:16].replace("T", " ")

    longest = max((len(name) for r in releases for name in files(r)), default=0)
    if width >= WIDE and longest <= width // 3:
        table = Table(title="Loaded CMS releases", title_justify="left")
        table.add_column("dataset", no_wrap=True)
        table.add_column("release", max_width=24)
        table.add_column("effective", max_width=14)
        table.add_column("rows")
        table.add_column("files", no_wrap=True, min_width=longest)
        table.add_column("loaded", no_wrap=True)
        for r in releases:
            table.add_row(r["dataset"], r["label"], period(r), "\n".join(f"{v:,} {k}" for k, v in r["row_counts"].items()),
                          "\n".join(files(r)), loaded(r))
        return table
    table = Table(title="Loaded CMS releases", title_justify="left", show_header=False, show_lines=True)
    table.add_column("release", max_width=20)
    table.add_column("details", ratio=1)
    for r in releases:
        details = Text()
        details.append(f"{r['dataset']}, {period(r)}")
        details.append(f"\nloaded {loaded(r)}", style="dim")
        details.append("\nrows: " + ", ".join(f"{v:,} {k}" for k, v in r["row_counts"].items()))
        for name in files(r):
            details.append(f"\n{name}")
        table.add_row(Text(r["label"], style="bold"), details)
    return table
