"""On-demand diagnostics: signed commands from the collector, a fixed registry of typed checks.

    settings.py  the `[commands]` table of agent.toml
    security.py  signature, expiry, nonce and rate checks (pure: time is an argument)
    report.py    the partial result a check fills as it goes, bounded in size
    registry.py  CHECKS: name -> (params schema, run); parameter validation
    net.py       ping, dns, tcp, http, route
    system.py    disk, memory, top_processes, services, print_queue, network_config
    printer.py   printer (one SNMP device, the `deskwatch-agent probe` document)
    triage.py    the standard set in parallel, what is wrong first
    handler.py   payload -> CommandResult: verify, validate, run within a time budget

No shell and no arbitrary command: a check is a name in `CHECKS`, its parameters are
decoded into that check's Struct, and the only programs started are fixed OS tools
(traceroute, lpstat, systemctl) with validated arguments.
"""
