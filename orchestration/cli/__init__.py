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
- ``cdp inspect FILE``: how a file would load (mapping file applied), without writing anything;
- ``cdp unload FILE``: take a delivered file's rows back out of raw (kept in the load log as retired);
- ``cdp dev``: start the Dagster UI on ``workspace.yaml`` with the same instance;
- ``cdp privacy export``: everything held about one person (right of access), as JSON and HTML;
- ``cdp privacy erase``: remove one person everywhere and keep them out of later loads;
- ``cdp privacy retention``: who is past their retention window (dry run), and erasing them.
"""

from __future__ import annotations

import typer

from orchestration.cli import bench, data, docs, identity, pipeline, privacy

app = typer.Typer(help="Omnichannel customer data platform pipeline.", no_args_is_help=True)
app.command("generate")(data.generate)
app.command("run")(pipeline.run)
app.command("check")(pipeline.check)
app.command("inspect")(data.inspect)
app.command("unload")(data.unload)
app.command("formats")(docs.formats)
app.command("settings")(docs.settings_command)
app.command("dev")(pipeline.dev)
app.command("bench")(bench.bench_command)
app.command("bench-identity")(bench.bench_identity)
app.command("bench-rldata")(bench.bench_rldata)
app.command("bench-guards")(bench.bench_guards)

identity_app = typer.Typer(
    help="Identity resolution: fit the Splink model to your records, measure its accuracy, explain a pair.",
    no_args_is_help=True,
)
identity_app.command("train")(identity.train)
identity_app.command("eval")(identity.evaluate)
identity_app.command("explain")(identity.explain)
app.add_typer(identity_app, name="identity")
# The command's name before it moved under `cdp identity`; scripts that call it keep working.
app.command("eval-identity", deprecated=True, help="Same as `cdp identity eval`.")(identity.evaluate)

privacy_app = typer.Typer(help="Privacy requests (RGPD): what is held about a person.", no_args_is_help=True)
privacy_app.command("export")(privacy.privacy_export)
privacy_app.command("erase")(privacy.privacy_erase)
privacy_app.command("retention")(privacy.privacy_retention)
app.add_typer(privacy_app, name="privacy")
