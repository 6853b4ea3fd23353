"""The collector's errors: one root, so a caller can catch everything the collector raises.

CollectorError
├── ConfigError        collector.toml or a flag is wrong; names the file, the key and the value
├── WriteError         VictoriaMetrics did not take a write
│   └── WriteRejected  ... and never will (a 4xx other than 408/429): retrying cannot help
├── BufferUnusable     the writer's on-disk buffer cannot be read or written
├── DeadLetterNotFound no dead letter with that id
├── ArticleError       collector/kb: a knowledge-base article cannot be read (also a ValueError)
├── SettingsError      collector/rules/settings.py: the rules file cannot be used (also a ValueError)
└── ApiError           collector/helpdesk/client.py: the `deskwatch` CLI got no usable answer
"""

from __future__ import annotations


class CollectorError(Exception):
    """Root of everything the collector raises on purpose."""


class ConfigError(CollectorError):
    """The configuration cannot be used; the message says where and why."""


class WriteError(CollectorError):
    """A write to the metrics database failed; it may succeed if tried again."""


class WriteRejected(WriteError):
    """The metrics database refused the data itself; trying again gives the same answer."""


class BufferUnusable(CollectorError):
    """The writer's on-disk buffer is unusable (disk full, permissions, corrupt segment)."""


class DeadLetterNotFound(CollectorError):
    """No dead letter has the requested id."""
