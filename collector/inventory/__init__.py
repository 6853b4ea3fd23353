"""PC inventories: the latest per agent, a history of what changed, and an index to find a PC by.

schema.py  tables (the migration in migrations/versions/ creates the same)
diff.py    (old inventory, new inventory) -> changes (pure)
store.py   record births' inventories inside ingest's transaction; read them back
lookup.py  the caller's picture for the helpdesk: one PC, its incidents, its health (pure assembly)
picture.py the lookup's answer types, shared with `deskwatch whois` (pure)
report.py  fleet inventory for management: OS versions, low memory/disk, software versions
"""
