"""The one thing pyproject.toml cannot declare without an experimental setuptools table: the C extension.

The collector's fast lane in C (collector/_lines.c) runs ingest's hot loop: with it the
collector takes a third of the CPU per sample that msgspec and the Python line builder
take at saturation (bench/paths.py). It is optional: where no C compiler is found (a workstation that
installs only the agent) the package installs without it and collector/line_protocol.py
does the work; the collector logs a warning at start then.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("collector._lines", ["collector/_lines.c"], optional=True, extra_compile_args=["-O2"]),
    ]
)
