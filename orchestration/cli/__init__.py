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
- ``cdp identity merge A B`` / ``split A B`` / ``decisions list|revoke``: a data steward's
  corrections (must-links, cannot-links), applied by every run; ``cdp identity review``: the pairs
  the model is least sure of, to answer (``--apply`` turns the answers into decisions);
- ``cdp bench``: generate N customers, run the pipeline, time each stage against a floor;
- ``cdp bench-identity``: identity accuracy on labelled data sets (RLdata, FEBRL, the generator),
  each next to plain Splink; ``cdp bench-rldata`` runs it on one RLdata set; ``cdp bench-guards``
  what each guard earns on them;
- ``cdp formats``: the reference of every export format, generated from ``orchestration/exports``;
- ``cdp settings``: every environment variable and data-folder path in force (``orchestration/settings.py``);
- ``cdp screenshot``: the KPI report of the data folder as ``docs/kpi-report.png`` (``make screenshot``);
- ``cdp inspect FILE``: how a file would load (mapping file applied), without writing anything;
- ``cdp unload FILE``: take a delivered file's rows back out of raw (kept in the load log as retired);
- ``cdp dev``: start the Dagster UI on ``workspace.yaml`` with the same instance;
- ``cdp privacy export``: everything held about one person (right of access), as JSON and HTML;
- ``cdp privacy erase``: remove one person everywhere and keep them out of later loads;
- ``cdp privacy retention``: who is past their retention window (dry run), and erasing them.
"""

from __future__ import annotations

import re
from typing import Any

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


class App(typer.Typer):
    """Help as plain text, not Rich markup (markup swallowed every "[...]" of a help string: the
    "[default: ...]" of an option whose default is computed, "pip install -e '.[bench]'"), and
    every command a ``Command``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(no_args_is_help=True, rich_markup_mode=None, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        return super().command(*args, cls=kwargs.pop("cls", Command), **kwargs)


app = App(help="Omnichannel customer data platform pipeline.")
app.command("generate")(data.generate)
app.command("run")(pipeline.run)
app.command("check")(pipeline.check)
app.command("inspect")(data.inspect)
app.command("unload")(data.unload)
app.command("formats")(docs.formats)
app.command("settings")(docs.settings_command)
app.command("screenshot")(docs.screenshot)
app.command("dev")(pipeline.dev)
app.command("bench")(bench.bench_command)
app.command("bench-identity")(bench.bench_identity)
app.command("bench-rldata")(bench.bench_rldata)
app.command("bench-guards")(bench.bench_guards)

identity_app = App(
    help="Identity resolution: fit the Splink model to your records, measure its accuracy, explain a "
    "pair, correct it (merge, split, decisions, review).",
)
identity_app.command("train")(identity.train)
identity_app.command("eval")(identity.evaluate)
identity_app.command("explain")(identity.explain)
identity_app.command("merge")(identity.merge)
identity_app.command("split")(identity.split)
identity_app.command("review")(identity.review)
identity_app.command("approve")(identity.approve)
identity_app.command("range")(identity.kpi_range)
decisions_app = App(help="The steward's merge and split decisions: list them, revoke one.")
decisions_app.command("list")(identity.decisions_list)
decisions_app.command("revoke")(identity.decisions_revoke)
identity_app.add_typer(decisions_app, name="decisions")
app.add_typer(identity_app, name="identity")
# The command's name before it moved under `cdp identity`; scripts that call it keep working.
app.command("eval-identity", deprecated=True, help="Same as `cdp identity eval`.")(identity.evaluate)

privacy_app = App(help="Privacy requests (GDPR): what is held about a person.")
privacy_app.command("export")(privacy.privacy_export)
privacy_app.command("erase")(privacy.privacy_erase)
privacy_app.command("retention")(privacy.privacy_retention)
app.add_typer(privacy_app, name="privacy")
