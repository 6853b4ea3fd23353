"""Grafana dashboards as code; `dashboards.catalog.DASHBOARDS` maps each file name to its builder.

Importing this package loads nothing else, so the `deskwatch` CLI can offer `dashboards`
on a machine without the `dashboards` extra (grafana-foundation-sdk) and say what is
missing only when it is used.
"""
