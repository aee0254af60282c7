"""Validation results people can read: ``serving/quality/``.

Each suite run writes ``validations/<asset>.json`` (GX's own validation result, plus one line per
check with its severity and reason); ``index.html`` lists every check of every asset, the latest
outcome first by failures. A check step writes the JSON of each of its suites and rebuilds the
index once, at its end: the index reads every JSON file, so rebuilding it after each suite cost a
layer of 32 suites 0.2-0.6 s for a page nobody reads before the step ends.

The page is self-contained (no script, no external stylesheet): it opens offline, from a file
share or an artifact store. GX's Data Docs site is not used because it loads its styles and
scripts from a CDN.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestration.lib.atomic import write_text_atomically
from orchestration.quality.gx import Outcome, Suite

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
.failed.critical { background: #fde2e2; } .failed.warning { background: #fff4d6; }
.tag { font-size: 12px; padding: 1px 6px; border-radius: 8px; background: #eee; }
"""


INDEX = "index.html"


def write_results(
    quality_dir: Path, suite: Suite, outcomes: list[Outcome], gx_result: dict[str, Any]
) -> Path:
    """Store one suite's results in ``quality_dir`` (``Settings.quality_dir``) and refresh the
    index; return the index page."""
    write_validation(quality_dir, suite, outcomes, gx_result)
    return write_index(quality_dir)


def write_validation(
    quality_dir: Path, suite: Suite, outcomes: list[Outcome], gx_result: dict[str, Any]
) -> Path:
    """Store one suite's results in ``quality_dir/validations/`` without refreshing the index
    (``write_index``, once for a whole check step); return the file."""
    folder = quality_dir / "validations"
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "asset": "/".join(suite.asset_key),
        "validated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "checks": [
            {
                "name": o.check.name,
                "severity": "critical" if o.check.critical else "warning",
                "success": o.success,
                "reason": o.reason,
            }
            for o in outcomes
        ],
        "great_expectations": gx_result,
    }
    return write_text_atomically(folder / f"{suite.name}.json", json.dumps(record, indent=1, default=str))


def latest_checks(quality_dir: Path) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The latest result of every check: (asset, validated at, validation file, check)."""
    folder = quality_dir / "validations"
    rows = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        record = json.loads(path.read_text(encoding="utf-8"))
        rows += [(record["asset"], record["validated_at"], path.name, check) for check in record["checks"]]
    return rows


def write_index(quality_dir: Path) -> Path:
    """One HTML table of the latest result of every check, failures first."""
    rows = latest_checks(quality_dir)
    rows.sort(key=lambda r: (r[3]["success"], r[3]["severity"] != "critical", r[0], r[3]["name"]))
    failed = sum(not r[3]["success"] for r in rows)
    body = "\n".join(
        f'<tr class="{"passed" if c["success"] else "failed"} {c["severity"]}">'
        f"<td>{html.escape(asset)}</td><td>{html.escape(c['name'])}</td>"
        f'<td><span class="tag">{c["severity"]}</span></td>'
        f"<td>{'passed' if c['success'] else 'FAILED'}</td><td>{html.escape(c['reason'])}</td>"
        f'<td><a href="validations/{html.escape(file)}">{html.escape(at)}</a></td></tr>'
        for asset, at, file, c in rows
    )
    return write_text_atomically(
        quality_dir / INDEX,
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Data quality: {failed} failed of {len(rows)}</title><style>{STYLE}</style></head><body>
<h1>Data quality</h1>
<p>{len(rows)} checks (Great Expectations suites in <code>orchestration/quality/suites.py</code>),
{failed} failed. Critical failures block everything downstream in the run; warnings annotate.</p>
<table><thead><tr><th>asset</th><th>check</th><th>severity</th><th>status</th><th>reason</th>
<th>validated (UTC)</th></tr></thead><tbody>
{body}
</tbody></table></body></html>
""",
    )
