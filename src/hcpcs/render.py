"""Rich renderings of library answers for the terminal (the CLI's human form)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _coded(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict) and "code" in value:
        meaning = value.get("meaning")
        return f"{value['code']}: {meaning}" if meaning else str(value["code"])
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


def lookup_card(data: dict[str, Any]) -> Group:
    parts: list[Any] = []
    valid = data.get("valid_on_date")
    banner_style = "bold white on green" if valid else "bold white on red" if valid is False else "bold"
    banner = Text(f" {data['code']} ", style="bold reverse")
    banner.append("  ")
    banner.append(f" {data.get('validity') or ''} ", style=banner_style)
    parts.append(banner)
    parts.append(_kv("Descriptors", [
        ("Kind", data["kind"]),
        ("Long", data.get("long_description")),
        ("Short", data.get("short_description")),
        ("From", data.get("descriptor_source")),
    ]))
    if data["kind"] != "modifier" or data.get("action"):
        parts.append(_kv(f"Status on {data['as_of']}", [
            ("Valid", valid),
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
        src = Table.grid(padding=(0, 2))
        for s in data["sources"]:
            src.add_row(s["what"], s["release"], ", ".join(s["files"]))
        parts.append(Panel(src, title="Sources", title_align="left"))
    return Group(*parts)
