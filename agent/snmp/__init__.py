"""SNMP polling of printers and network devices: client, value decoder, profiles, reports.

client.py (the only pysnmp importer) -> values.VarBind -> profile.extract() (what each
profile file declares) -> report.build_report() (RFC semantics; xdsl.py for DSL lines)
-> observations.observe() -> Samples and States. poll.py ties one device's poll together;
coverage.py writes what the profiles read into docs/snmp.md.
"""
