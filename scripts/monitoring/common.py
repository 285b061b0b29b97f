"""Building blocks shared by both dashboards: data source, queries, value mappings, colours.

Built with grafana-foundation-sdk (Grafana Labs' typed builders), so a panel is checked by mypy
instead of being a hand-written dictionary.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, table
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders.common import ReduceDataOptions, TableSortByFieldState
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

PREFIX = "stakater_support"
JOB = 'job="eligibility-operator"'
# Never a data source UID: the dashboards are imported into Grafanas we do not know.
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
KEY = "cluster, namespace, engagement"
ELIGIBILITY_CODES = ("Ineligible", "Limited", "Eligible", "Unknown")  # value 0..3 in the dashboards
DAYS = "suffix: days"  # Grafana's "d" unit turns 40 days into "5.71 week"; support managers count days
PREMIUM_HORIZON_DAYS = 90  # the default spec.upgradeHorizonDays


def query(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> prometheus.Dataquery:
    """A Prometheus query on the dashboard's data source variable; ref ids are set by ``with_queries``."""
    q = prometheus.Dataquery().expr(expr).datasource(DATASOURCE).legend_format(legend or "__auto")
    q = q.instant() if instant or table else q.range()
    return q.format(PromQueryFormat.TABLE) if table else q


def ref_ids(queries: list[prometheus.Dataquery]) -> list[Builder[Dataquery]]:
    """The panel's queries, named A, B, C... (the merged tables refer to "Value #B")."""
    return [q.ref_id(chr(ord("A") + i)) for i, q in enumerate(queries)]


def grid(x: int, y: int, w: int, h: int) -> dm.GridPos:
    return dm.GridPos(x=x, y=y, w=w, h=h)


def text_map(values: dict[str, tuple[str, str]]) -> dm.ValueMap:
    """Map raw values to (text, colour)."""
    return dm.ValueMap(
        options={
            raw: dm.ValueMappingResult(text=text, color=color, index=i)
            for i, (raw, (text, color)) in enumerate(values.items())
        }
    )


YES_NO = text_map({"0": ("No", "red"), "1": ("Yes", "green")})
YES_NO_NEUTRAL = text_map({"0": ("No", "text"), "1": ("Yes", "green")})
UP_DOWN = text_map({"0": ("Down", "red"), "1": ("Up", "green")})
ELIGIBILITY_MAP = text_map(
    {
        str(code): (state, color)
        for code, (state, color) in enumerate(zip(ELIGIBILITY_CODES, ("red", "orange", "green", "text"), strict=True))
    }
)
# The same colours for the text labels (eligibility, lifecycle, owner columns).
STATE_TEXT_MAP = text_map(
    {
        "Eligible": ("Eligible", "green"),
        "Limited": ("Limited", "orange"),
        "Ineligible": ("Ineligible", "red"),
        "Supported": ("Supported", "green"),
        "Deprecated": ("Deprecated", "orange"),
        "EndOfLife": ("EndOfLife", "red"),
        "Unknown": ("Unknown", "purple"),
        "Stakater": ("Stakater", "blue"),
        "Customer": ("Customer", "yellow"),
    }
)


def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


# Days to end of support: red when past, amber inside the Premium horizon, green beyond it.
DAYS_THRESHOLDS = thresholds((None, "red"), (0, "orange"), (PREMIUM_HORIZON_DAYS, "green"))
ELIGIBILITY_THRESHOLDS = thresholds((None, "red"), (1, "orange"), (2, "green"), (3, "text"))


def last_value() -> ReduceDataOptions:
    return ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def prop(name: str, value: object) -> dm.DynamicConfigValue:
    return dm.DynamicConfigValue(id_val=name, value=value)


def cell(mode: str) -> dm.DynamicConfigValue:
    return prop("custom.cellOptions", {"type": mode})


def organize(
    exclude: tuple[str, ...] = (), rename: dict[str, str] | None = None, order: tuple[str, ...] = ()
) -> dm.DataTransformerConfig:
    """Hide, rename and order the columns of a table."""
    return dm.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": dict.fromkeys(("Time", "__name__", "job", "instance", *exclude), True),
            "renameByName": rename or {},
            "indexByName": {name: i for i, name in enumerate(order)},
        },
    )


MERGE = dm.DataTransformerConfig(id_val="merge", options={})


def eligibility_code(selector: str, by: str = KEY) -> str:
    """One number per engagement (0 Ineligible .. 3 Unknown) that ELIGIBILITY_MAP names and colours.

    ``max by`` also folds the series of two operator replicas into one.
    """
    return " or ".join(
        f'{code} * max by ({by}) ({PREFIX}_engagement_eligibility{{{selector}, eligibility="{state}"}} == 1)'
        for code, state in enumerate(ELIGIBILITY_CODES)
    )


def datasource_variable() -> db.DatasourceVariable:
    return db.DatasourceVariable("datasource").label("Data source").type("prometheus")


def label_variable(name: str, label: str, source: str, *, multi: bool = True) -> db.QueryVariable:
    """A variable from ``label_values``; "All" is ``.*``, which also matches a missing label."""
    definition = f"label_values({source}, {name})"
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query({"query": definition, "refId": name, "qryType": 1})
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
        .multi(multi)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )


# Panel shapes that both dashboards use more than once.


def table_of(panel_id: int, title: str, pos: dm.GridPos, queries: list[prometheus.Dataquery]) -> table.Panel:
    """A table of table-format queries (named A, B, ...) on the data source variable, plain numbers."""
    return (
        table.Panel()
        .id(panel_id)
        .title(title)
        .datasource(DATASOURCE)
        .grid_pos(pos)
        .targets(ref_ids(queries))
        .unit("none")
    )


def countdown_table(
    panel_id: int,
    title: str,
    description: str,
    pos: dm.GridPos,
    expr: str,
    column: str,
    *,
    rename: dict[str, str] | None = None,
    order: tuple[str, ...] = (),
    unit: str = DAYS,
    decimals: int = 0,
    steps: db.ThresholdsConfig = DAYS_THRESHOLDS,
) -> table.Panel:
    """A table of time left (the query's value, shown as ``column``), coloured by ``steps``, nearest first."""
    return (
        table_of(panel_id, title, pos, [query(expr, table=True)])
        .description(description)
        .unit(unit)
        .decimals(decimals)
        .thresholds(steps)
        .with_transformation(organize(rename={"Value": column, **(rename or {})}, order=order))
        .override_by_name(column, [cell("color-background")])
        .sort_by([TableSortByFieldState().display_name(column)])
    )


def bar_counts(panel_id: int, title: str, pos: dm.GridPos, expr: str, legend: str) -> bargauge.Panel:
    """Horizontal bars, one per series of an instant query (counts, so from 0)."""
    return (
        bargauge.Panel()
        .id(panel_id)
        .title(title)
        .datasource(DATASOURCE)
        .grid_pos(pos)
        .targets(ref_ids([query(expr, legend, instant=True)]))
        .unit("none")
        .min(0)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .reduce_options(last_value())
    )


def named_values(
    panel_id: int, title: str, description: str, pos: dm.GridPos, target: prometheus.Dataquery
) -> stat.Panel:
    """One coloured box per series, showing its name and value (no graph)."""
    return (
        stat.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .grid_pos(pos)
        .targets(ref_ids([target]))
        .unit("none")
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(last_value())
    )
