"""Audience assets (group ``audiences``): one per audience of ``audiences.yml``, each writing
``CDP_DATA_DIR/activation/<name>.csv`` with the consented contacts a marketing tool imports
(``orchestration/activation/audiences.py``), its count and a masked preview in the UI."""

from collections.abc import Callable

import dagster as dg

from orchestration.activation.audiences import Audience, load_audiences, write_audience
from orchestration.defs.common import OWNERS, WAREHOUSE_POOL, markdown_table
from orchestration.defs.resources import WarehouseResource
from orchestration.settings import get_settings

# What every audience reads: the customers, their segments and their consents.
AUDIENCE_INPUTS = [
    dg.AssetKey(["marts", name])
    for name in ("dim_customers", "mart_customer_segments", "dim_customer_consents")
]


def audience_asset(audience: Audience) -> Callable:
    @dg.asset(
        key=["activation", audience.name],
        deps=AUDIENCE_INPUTS,
        group_name="audiences",
        kinds={"duckdb", "csv"},
        owners=OWNERS,
        tags={"layer": "activation", "channel": audience.channel},
        pool=WAREHOUSE_POOL,
        description=(
            f"{audience.description}\n\nChannel: {audience.channel} (granted consent only). "
            f"Condition: `{audience.where}`. File: `activation/{audience.name}.csv` (contacts in clear)."
        ),
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        folder = get_settings().activation_dir
        with warehouse.get_connection() as con:
            written = write_audience(con, audience, folder)
        context.log.info(f"{audience.name}: {written.rows} consented contacts in {written.path}")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": written.rows,
                "path": dg.MetadataValue.path(str(written.path)),
                "channel": audience.channel,
                "condition": audience.where,
                "preview": dg.MetadataValue.md(markdown_table(written.columns, written.preview)),
            }
        )

    return _asset


defs = dg.Definitions(assets=[audience_asset(a) for a in load_audiences()])
