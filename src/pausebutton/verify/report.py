"""The verifier's report: every finding with its evidence, the accountancy, plots, as HTML and JSON.

`verify_history` runs the detectors and the accountancy over a `History` and collects,
with the log audit's result when there is one (`verify.audit.audit_log`), one
`VerificationResult` (``pausebutton.verification/v1``): the JSON for machines.
`write_report` writes it, and a self-contained HTML page (inline CSS, plots as inline SVG
drawn by matplotlib) for people: summary, checkpoints and witnesses, findings with their
severity and evidence, the accountancy table, compute consumed per jurisdiction and chips
reporting over time, and the parameters the verdicts rest on.
"""

from __future__ import annotations

import io
import itertools
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field

from pausebutton.governance.policy import DAY_S
from pausebutton.verify.accountancy import BalanceRow, account, accountancy_findings
from pausebutton.verify.detectors import Parameters, run_detectors
from pausebutton.verify.findings import AuditResult, Finding
from pausebutton.verify.history import History, read_history
from pausebutton.verify.sources import LogSource

SEVERITIES = ("critical", "error", "warning")


class Series(BaseModel):
    """One line of a plot: a label and (bucket start, value) points."""

    model_config = ConfigDict(extra="forbid")

    label: str
    points: list[tuple[int, float]]


class VerificationResult(BaseModel):
    """What the verifier found in a history, for machines (and the HTML page)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["pausebutton.verification/v1"] = "pausebutton.verification/v1"
    as_of: int = Field(description="the newest time in the history, Unix s")
    log_size: int
    counts: dict[str, int]
    parameters: dict[str, int | float | bool]
    audit: AuditResult | None = None
    findings: list[Finding]
    accountancy: list[BalanceRow]
    bucket_s: int
    compute: list[Series] = Field(description="operations counted per jurisdiction and bucket")
    reporting: Series = Field(description="chips that showed themselves, per bucket")

    @property
    def ok(self) -> bool:
        """Whether nothing worse than a warning was found (audit included)."""
        audit_ok = self.audit is None or self.audit.ok
        return audit_ok and not any(f.severity != "warning" for f in self.findings)


def compute_series(history: History, bucket_s: int = DAY_S) -> list[Series]:
    """Operations counted between each device's successive receipts, per jurisdiction and bucket.

    The growth is dated at the later receipt and placed where the registry had the chip then.
    """
    sums: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for chain in history.chains().values():
        for a, b in itertools.pairwise(chain):
            grown = b.ops - a.ops
            if grown <= 0:
                continue
            serial = history.by_key.get(b.receipt.device_key, b.receipt.serial)
            custody = history.custody_at(serial, b.receipt.time)
            where = "?" if custody is None else custody.jurisdiction
            sums[where][b.receipt.time // bucket_s * bucket_s] += grown
    return [
        Series(label=k, points=[(t, float(n)) for t, n in sorted(v.items())])
        for k, v in sorted(sums.items())
    ]


def reporting_series(history: History, bucket_s: int = DAY_S) -> Series:
    """How many distinct chips showed themselves (receipt, inspection, check) per bucket."""
    seen: dict[int, set[str]] = defaultdict(set)
    for serial, sightings in history.presence().items():
        for s in sightings:
            seen[s.time // bucket_s * bucket_s].add(serial)
    return Series(label="chips reporting", points=sorted((k, len(v)) for k, v in seen.items()))


def verify_history(
    history: History,
    params: Parameters | None = None,
    *,
    audit: AuditResult | None = None,
    signatures: bool = True,
    bucket_s: int = DAY_S,
) -> VerificationResult:
    """Run the detectors and the accountancy over `history` and collect the result."""
    chosen = params or Parameters.from_policy(history.policy)
    rows = account(history, chosen)
    found = run_detectors(history, chosen, signatures=signatures) + accountancy_findings(rows)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    found.sort(key=lambda f: (rank[f.severity], f.check, f.id))
    counts = {
        "chips": len(history.chips),
        "facilities": len(history.facilities),
        "receipts": len(history.receipts),
        "runs": len(history.runs),
        "device_licences": len(history.grants),
        "directives": len(history.directives),
        "location_checks": len(history.locations),
        "inspections": len(history.inspections),
    }
    return VerificationResult(
        as_of=history.as_of,
        log_size=history.size,
        counts=counts,
        parameters={k: v for k, v in chosen.to_dict().items() if isinstance(v, int | float)},
        audit=audit,
        findings=found,
        accountancy=rows,
        bucket_s=bucket_s,
        compute=compute_series(history, bucket_s),
        reporting=reporting_series(history, bucket_s),
    )


def verify_source(
    source: LogSource, size: int, *, audit: AuditResult | None = None, chunk: int = 65_536
) -> VerificationResult:
    """Read entries [0, size) of an exported log and verify them (after `audit`, if given)."""

    def entries() -> itertools.chain[tuple[int, bytes]]:
        return itertools.chain.from_iterable(
            enumerate(source.entries(low, min(size, low + chunk)), start=low)
            for low in range(0, size, chunk)
        )

    return verify_history(read_history(entries()), audit=audit)


def _utc(value: int) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _svg(series: list[Series], title: str, ylabel: str) -> str:
    """A line plot as inline SVG, with fixed ids so the same data draws the same bytes."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    with mpl.rc_context({"svg.hashsalt": "pausebutton", "svg.fonttype": "none"}):
        figure = Figure(figsize=(8, 3.2), dpi=100)
        axes = figure.add_subplot()
        for line in series:
            xs = [t / DAY_S for t, _ in line.points]  # Matplotlib's dates: days since 1970
            axes.plot(xs, [v for _, v in line.points], marker="o", markersize=3, label=line.label)
        axes.xaxis_date()
        axes.set_title(title)
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
        if series and any(s.points for s in series):
            axes.legend(loc="upper left", fontsize="small")
        figure.autofmt_xdate()
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = out.getvalue()
    return re.sub(r"^.*?(<svg)", r"\1", text, count=1, flags=re.S)


def render_html(result: VerificationResult) -> str:
    """The report as one self-contained HTML page."""
    env = Environment(
        loader=PackageLoader("pausebutton.verify", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _utc
    by_severity = {s: sum(f.severity == s for f in result.findings) for s in SEVERITIES}
    plots = {
        "compute": _svg(result.compute, "Operations counted per jurisdiction", "operations"),
        "reporting": _svg([result.reporting], "Chips that showed themselves", "chips"),
    }
    return env.get_template("report.html.j2").render(
        r=result,
        by_severity=by_severity,
        plots=plots,
        muf=sum(r.muf != 0 for r in result.accountancy),
    )


def write_report(result: VerificationResult, out_html: Path, out_json: Path | None = None) -> None:
    """Write the HTML page to `out_html` and, if given, the JSON result to `out_json`."""
    out_html.write_text(render_html(result), encoding="utf-8")
    if out_json is not None:
        out_json.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
