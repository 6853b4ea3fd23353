"""Shared pieces of every dashboard: the datasource, variables, panel kinds, thresholds, ids.

Every panel reads from one Prometheus-type datasource chosen by the `datasource`
variable, so the same JSON works against any Grafana whose VictoriaMetrics datasource
has a different uid. Panels are made by the functions here, never by hand, so each one
gets a title, a unit and at least one query; `tests/dashboards/test_build.py` checks that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from grafana_foundation_sdk.builders import bargauge as bargauge_builder
from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dashboard_builder
from grafana_foundation_sdk.builders import prometheus as prometheus_builder
from grafana_foundation_sdk.builders import stat as stat_builder
from grafana_foundation_sdk.builders import table as table_builder
from grafana_foundation_sdk.builders import timeseries as timeseries_builder
from grafana_foundation_sdk.cog import builder as cog_builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${" + DATASOURCE_VARIABLE + "}")

# Grafana colour names; the same three everywhere so red always means "act now".
GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"

PanelBuilder = cog_builder.Builder[model.Panel]
# What a dashboard's table lists, in order: section headings and the panels under each.
Part = PanelBuilder | dashboard_builder.Row

# The helpdesk console's address: data links open the caller's page (/pc/<agent_id>) and the
# device page (/devices/<serial>) there. A text box, so each Grafana sets its own collector.
CONSOLE_VARIABLE = "console"
CONSOLE = "${" + CONSOLE_VARIABLE + "}"
PC_PAGE = CONSOLE + "/pc/${__field.labels.agent_id}"
DEVICE_PAGE = CONSOLE + "/devices/${__field.labels.device}"
PC_ROW = CONSOLE + "/pc/${__data.fields.agent_id}"  # in a table: the row's agent_id column
DEVICE_ROW = CONSOLE + "/devices/${__data.fields.device}"


def console_variable() -> dashboard_builder.TextBoxVariable:
    """Where the helpdesk console is: the [http] listen address of a collector."""
    return (
        dashboard_builder.TextBoxVariable(CONSOLE_VARIABLE)
        .label("Console")
        .description("The deskwatch helpdesk console (a collector's [http] listen address)")
        .default_value("http://127.0.0.1:9108")
        .hide(model.VariableHide.HIDE_VARIABLE)
    )


def link(title: str, url: str) -> dashboard_builder.DashboardLink:
    """A link to `url` (which may use variables and, in data links, the clicked series' labels)."""
    return dashboard_builder.DashboardLink(title).type(model.DashboardLinkType.LINK).url(url)


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL target: the expression, its legend and whether Grafana asks for one instant."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


def _target(query: Query, ref_id: str) -> prometheus_builder.Dataquery:
    target = (
        prometheus_builder.Dataquery()
        .expr(query.expr)
        .ref_id(ref_id)
        .datasource(DATASOURCE)
        .legend_format(query.legend or "__auto")
    )
    target = target.instant() if query.instant else target.range()
    if query.table:
        target = target.format(prometheus_model.PromQueryFormat.TABLE)
    return target


# Every panel kind of the SDK has the same framing methods, each returning its own builder.
_Panel = TypeVar(
    "_Panel", timeseries_builder.Panel, stat_builder.Panel, bargauge_builder.Panel, table_builder.Panel
)


def _framed(panel: _Panel, title: str, unit: str, description: str, width: int, height: int) -> _Panel:
    """`panel` with its title, unit and description, on the datasource variable, `width` x `height`."""
    return (
        panel.title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .span(width)
        .height(height)
    )


_Graph = TypeVar("_Graph", timeseries_builder.Panel, bargauge_builder.Panel)


def _bounded(
    panel: _Graph,
    min_value: float | None,
    max_value: float | None,
    links: Sequence[dashboard_builder.DashboardLink],
) -> _Graph:
    """`panel` with its axis bounds, where given, and its data links."""
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    if links:
        panel = panel.data_links(list(links))
    return panel


def _ref_ids(queries: Sequence[Query]) -> list[tuple[Query, str]]:
    return [(q, chr(ord("A") + i)) for i, q in enumerate(queries)]


def steps(base: str, *marks: tuple[float, str]) -> dashboard_builder.ThresholdsConfig:
    """Absolute thresholds: `base` colour below the first mark, then each (value, colour)."""
    return (
        dashboard_builder.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps(
            [model.Threshold(value=None, color=base)]
            + [model.Threshold(value=value, color=color) for value, color in marks]
        )
    )


def ok_mapping(ok: str = "OK", problem: str = "Problem") -> list[model.ValueMapping]:
    """1 -> ok (green), 0 -> problem (red): how every `*_ok`, `*_up` and `state_ok` value reads."""
    return [
        model.ValueMap(
            options={
                "1": model.ValueMappingResult(text=ok, color=GREEN, index=0),
                "0": model.ValueMappingResult(text=problem, color=RED, index=1),
            }
        )
    ]


def timeseries(
    title: str,
    unit: str,
    *queries: Query,
    description: str = "",
    thresholds: dashboard_builder.ThresholdsConfig | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
    links: Sequence[dashboard_builder.DashboardLink] = (),
) -> timeseries_builder.Panel:
    """A graph over time; thresholds, when given, are drawn as dashed lines."""
    panel = (
        _framed(timeseries_builder.Panel(), title, unit, description, width, height)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .legend(
            common_builder.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(common_builder.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )
    for query, ref_id in _ref_ids(queries):
        panel = panel.with_target(_target(query, ref_id))
    if thresholds is not None:
        panel = panel.thresholds(thresholds).thresholds_style(
            common_builder.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
        )
    if stacked:
        panel = panel.stacking(common_builder.StackingConfig().mode(common.StackingMode.NORMAL))
    return _bounded(panel, min_value, max_value, links)


def stat(
    title: str,
    unit: str,
    query: Query,
    *,
    description: str = "",
    thresholds: dashboard_builder.ThresholdsConfig | None = None,
    mappings: list[model.ValueMapping] | None = None,
    no_value: str | None = None,
    width: int = 6,
    height: int = 4,
) -> stat_builder.Panel:
    """One big number (or one per series), coloured by thresholds or mappings."""
    panel = (
        _framed(stat_builder.Panel(), title, unit, description, width, height)
        .with_target(_target(Query(query.expr, query.legend, instant=True), "A"))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds if thresholds is not None else steps(BLUE))
    )
    if mappings:
        panel = panel.mappings(mappings)
    if no_value is not None:
        panel = panel.no_value(no_value)
    return panel


def bars(
    title: str,
    unit: str,
    query: Query,
    *,
    description: str = "",
    thresholds: dashboard_builder.ThresholdsConfig | None = None,
    min_value: float | None = 0,
    max_value: float | None = None,
    width: int = 12,
    height: int = 8,
    links: Sequence[dashboard_builder.DashboardLink] = (),
) -> bargauge_builder.Panel:
    """Horizontal bars, one per series, for rankings and levels (top PCs, toner left)."""
    panel = (
        _framed(bargauge_builder.Panel(), title, unit, description, width, height)
        .with_target(_target(Query(query.expr, query.legend, instant=True), "A"))
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds if thresholds is not None else steps(BLUE))
    )
    return _bounded(panel, min_value, max_value, links)


def table(
    title: str,
    unit: str,
    query: Query,
    *,
    description: str = "",
    mappings: list[model.ValueMapping] | None = None,
    thresholds: dashboard_builder.ThresholdsConfig | None = None,
    hide: Sequence[str] = ("Time", "__name__"),
    width: int = 12,
    height: int = 8,
    links: Sequence[dashboard_builder.DashboardLink] = (),
) -> table_builder.Panel:
    """The series' labels as columns and the current value as the last one."""
    panel = (
        _framed(table_builder.Panel(), title, unit, description, width, height)
        .with_target(_target(Query(query.expr, query.legend, instant=True, table=True), "A"))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": {name: True for name in hide}, "renameByName": {"Value": "value"}},
            )
        )
        .thresholds(thresholds if thresholds is not None else steps(BLUE))
        # Set explicitly so the JSON holds what the SDK's model would fill in when read back.
        .align(common.FieldTextAlignment.AUTO)
    )
    if mappings:
        panel = panel.mappings(mappings).cell_options(
            common.TableColoredBackgroundCellOptions(mode=common.TableCellBackgroundDisplayMode.BASIC)
        )
    if links:
        panel = panel.data_links(list(links))
    return panel


def row(title: str) -> dashboard_builder.Row:
    """A section heading; the panels added after it belong to it."""
    return dashboard_builder.Row(title)


def datasource_variable() -> dashboard_builder.DatasourceVariable:
    """Pick the VictoriaMetrics datasource; the provisioned one (uid `victoriametrics`) by default."""
    return (
        dashboard_builder.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Datasource")
        .type("prometheus")
        .current(model.VariableOption(text="VictoriaMetrics", value="victoriametrics", selected=True))
    )


def label_variable(
    name: str, label: str, metric: str, label_name: str, *, multi: bool = True
) -> dashboard_builder.QueryVariable:
    """A variable listing the values of `label_name` on `metric` (`metric` may use other variables).

    With `multi`, "All" sends `.*`, which also matches a series without that label.
    """
    variable = (
        dashboard_builder.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query({"query": f"label_values({metric}, {label_name})", "refId": "PrometheusVariableQueryEditor"})
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
    )
    if multi:
        variable = variable.multi(True).include_all(True).all_value(".*")
    return variable


def new_dashboard(uid: str, title: str, description: str) -> dashboard_builder.Dashboard:
    """A dashboard with the deskwatch defaults: tags, datasource variable, last 6 h, 1 min refresh."""
    return (
        dashboard_builder.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["deskwatch"])
        .editable()
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .with_variable(datasource_variable())
    )


def assemble(dashboard: dashboard_builder.Dashboard, parts: Iterable[Part]) -> model.Dashboard:
    """The dashboard with `parts` added in order (a row starts a section), finished."""
    for part in parts:
        if isinstance(part, dashboard_builder.Row):
            dashboard = dashboard.with_row(part)
        else:
            dashboard = dashboard.with_panel(part)
    return finish(dashboard)


def finish(builder: dashboard_builder.Dashboard) -> model.Dashboard:
    """Build, lay the panels out left to right in rows of 24 columns, and number them 1, 2, ...

    The SDK places a panel before checking that it fits, so a 12-wide panel after an
    18-column run would hang off the edge; the layout here wraps first. Ids follow the
    layout order, so they are the same on every build.
    """
    built = builder.build()
    x = y = row_height = 0
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
        pos = panel.grid_pos if panel.grid_pos is not None else model.GridPos()
        if isinstance(panel, model.RowPanel):
            y, x, row_height = y + row_height, 0, 0
            panel.grid_pos = model.GridPos(h=1, w=24, x=0, y=y)
            y += 1
            continue
        if x + pos.w > 24:
            y, x, row_height = y + row_height, 0, 0
        panel.grid_pos = model.GridPos(h=pos.h, w=pos.w, x=x, y=y)
        x += pos.w
        row_height = max(row_height, pos.h)
    return built
