"""``cdp``: the command line of the customer data platform. This module only names the commands;
each is a function of the module for its concern (``pipeline``, ``data``, ``docs``, ``identity``,
``privacy``, ``bench``), which imports what it needs when it runs, so ``cdp --help`` stays fast.

- ``cdp generate``: write realistic sample exports (and their ground truth) into the landing folder;
- ``cdp run``: materialize every asset in-process through Dagster, with progress, and record the run
  in the local instance so it shows in the UI;
- ``cdp check``: every data quality check on the warehouse as it is;
- ``cdp identity train``: fit the Splink model to the warehouse's records, with a report;
- ``cdp identity eval``: accuracy of the customer ids against a truth file, next to a baseline
  (``cdp eval-identity`` is the older name, kept);
- ``cdp identity explain A B``: why two records are one customer or two, and which rule decided;
- ``cdp bench``: generate N customers, run the pipeline, time each stage against a floor;
- ``cdp bench-identity``: identity accuracy on labelled data sets (RLdata, FEBRL, the generator),
  each next to plain Splink; ``cdp bench-rldata`` runs it on one RLdata set; ``cdp bench-guards``
  what each guard earns on them;
- ``cdp formats``: the reference of every export format, generated from ``orchestration/exports``;
- ``cdp settings``: every environment variable and data-folder path in force (``orchestration/settings.py``);
- ``cdp screenshot``: the KPI report of the data folder as ``docs/kpi-report.png`` (``make screenshot``);
- ``cdp inspect FILE``: how a file would load (mapping file applied), without writing anything;
- ``cdp dev``: start the Dagster UI on ``workspace.yaml`` with the same instance;
- ``cdp privacy export``: everything held about one person (right of access), as JSON and HTML;
- ``cdp privacy erase``: remove one person everywhere and keep them out of later loads;
- ``cdp privacy retention``: who is past their retention window (dry run), and erasing them.
"""

from __future__ import annotations

import re

import typer
from typer.core import TyperCommand

from orchestration.cli import bench, data, docs, identity, pipeline, privacy


class Command(TyperCommand):
    """A command whose usage line names arguments as Unix tools do: ``inspect [OPTIONS] FILE``.

    Typer writes a required argument ``{file}``, which reads as a placeholder left unfilled.
    """

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        return [
            re.sub(r"^\{(.+)\}", lambda m: m.group(1).upper(), p) for p in super().collect_usage_pieces(ctx)
        ]


# Help is plain text, not Rich markup: markup would swallow every "[...]" of a help string (the
# "[default: ...]" of an option whose default is computed, "pip install -e '.[bench]'").
PLAIN = {"no_args_is_help": True, "rich_markup_mode": None}

app = typer.Typer(help="Omnichannel customer data platform pipeline.", **PLAIN)
app.command("generate", cls=Command)(data.generate)
app.command("run", cls=Command)(pipeline.run)
app.command("check", cls=Command)(pipeline.check)
app.command("inspect", cls=Command)(data.inspect)
app.command("formats", cls=Command)(docs.formats)
app.command("settings", cls=Command)(docs.settings_command)
app.command("screenshot", cls=Command)(docs.screenshot)
app.command("dev", cls=Command)(pipeline.dev)
app.command("bench", cls=Command)(bench.bench_command)
app.command("bench-identity", cls=Command)(bench.bench_identity)
app.command("bench-rldata", cls=Command)(bench.bench_rldata)
app.command("bench-guards", cls=Command)(bench.bench_guards)

identity_app = typer.Typer(
    help="Identity resolution: fit the Splink model to your records, measure its accuracy, explain a pair.",
    **PLAIN,
)
identity_app.command("train", cls=Command)(identity.train)
identity_app.command("eval", cls=Command)(identity.evaluate)
identity_app.command("explain", cls=Command)(identity.explain)
app.add_typer(identity_app, name="identity")
# The command's name before it moved under `cdp identity`; scripts that call it keep working.
app.command("eval-identity", cls=Command, deprecated=True, help="Same as `cdp identity eval`.")(
    identity.evaluate
)

privacy_app = typer.Typer(help="Privacy requests (GDPR): what is held about a person.", **PLAIN)
privacy_app.command("export", cls=Command)(privacy.privacy_export)
privacy_app.command("erase", cls=Command)(privacy.privacy_erase)
privacy_app.command("retention", cls=Command)(privacy.privacy_retention)
app.add_typer(privacy_app, name="privacy")
