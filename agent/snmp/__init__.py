"""SNMP polling of printers and network devices: client, value decoder, profiles, reports.

client.py (the only pysnmp importer) -> values.VarBind -> profile.extract() -> report.build_report()
-> observations.observe() -> Samples and States. poll.py ties one device's poll together.
"""
