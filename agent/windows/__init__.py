"""The agent on Windows: what it reads from Windows APIs instead of Linux files.

The `deskwatch-agent` Windows service itself (pywin32's service framework) is
agent/winservice.py, outside this package.

    power.py     service power and shutdown controls -> "sleep" | "resume" | "shutdown" (pure)
    paths.py     where config, spool and log live (C:\\ProgramData\\deskwatch)
    registry.py  installed programs (Uninstall keys, both views), Windows version, last update,
                 MSI settings
    smbios.py    maker, model and serial number (the firmware's SMBIOS table)
    disks.py     physical disks: model and size (the storage driver's IOCTLs)
    iphlp.py     default gateway (the IPv4 route table) and DNS servers (IP Helper API)
    spooler.py   printers and their network address (EnumPrinters, TCP/IP ports), print jobs
    sessions.py  who is logged on (terminal services sessions)
    icmp.py      ping and route through the ICMP API (IcmpSendEcho), which needs no administrator

Every module here imports on any OS, so its parsers run in the Linux tests with recorded
values; what calls Windows is inside `sys.platform == "win32"` branches, which mypy skips
on Linux. agent/winservice.py imports pywin32 at the top (it subclasses its framework).
"""
