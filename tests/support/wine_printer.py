"""Install or remove a printer in a Wine prefix through the spooler's own API, as an administrator would.

    python tests/support/wine_printer.py add NAME PORT [--default]
    python tests/support/wine_printer.py remove NAME

Run by the Windows CPython under Wine. `add` registers a driver (Wine's PostScript driver,
wineps.drv, with a minimal PPD written beside it) with AddPrinterDriverExW, which pywin32
does not wrap, then the printer with win32print.AddPrinter on PORT; the port itself (a
Standard TCP/IP port's registry key with its HostName) is the test's to write. Wine keeps
both under HKLM\\System\\CurrentControlSet\\Control\\Print, where its EnumPrinters reads
them back. Nothing here is mocked: the agent later finds the printer through
EnumPrinters like on Windows.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import wintypes

DRIVER = "deskwatch test driver"
PPD = """*PPD-Adobe: "4.3"
*FormatVersion: "4.3"
*FileVersion: "1.0"
*LanguageVersion: English
*LanguageEncoding: ISOLatin1
*PCFileName: "DESKWTCH.PPD"
*Manufacturer: "deskwatch"
*Product: "(deskwatch test)"
*ModelName: "deskwatch test"
*ShortNickName: "deskwatch test"
*NickName: "deskwatch test"
*PSVersion: "(3010.000) 0"
*LanguageLevel: "3"
*ColorDevice: False
*DefaultColorSpace: Gray
*OpenUI *PageSize/Page Size: PickOne
*DefaultPageSize: A4
*PageSize A4/A4: "<</PageSize[595 842]>>setpagedevice"
*CloseUI: *PageSize
*DefaultImageableArea: A4
*ImageableArea A4/A4: "18 36 577 806"
*DefaultPaperDimension: A4
*PaperDimension A4/A4: "595 842"
"""
APD_COPY_NEW_FILES = 0x8


class DriverInfo3(ctypes.Structure):  # winspool.h DRIVER_INFO_3W
    _fields_ = (
        ("cVersion", wintypes.DWORD),
        ("pName", wintypes.LPWSTR),
        ("pEnvironment", wintypes.LPWSTR),
        ("pDriverPath", wintypes.LPWSTR),
        ("pDataFile", wintypes.LPWSTR),
        ("pConfigFile", wintypes.LPWSTR),
        ("pHelpFile", wintypes.LPWSTR),
        ("pDependentFiles", wintypes.LPWSTR),
        ("pMonitorName", wintypes.LPWSTR),
        ("pDefaultDataType", wintypes.LPWSTR),
    )


def add_driver() -> None:
    ppd = os.path.join(os.environ["TEMP"], "deskwatch-test.ppd")
    with open(ppd, "w") as out:
        out.write(PPD)
    winspool = ctypes.WinDLL("winspool.drv", use_last_error=True)
    winspool.AddPrinterDriverExW.argtypes = [wintypes.LPWSTR, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD]
    winspool.AddPrinterDriverExW.restype = wintypes.BOOL
    info = DriverInfo3(3, DRIVER, None, "wineps.drv", ppd, "wineps.drv", None, None, None, "RAW")
    if not winspool.AddPrinterDriverExW(None, 3, ctypes.byref(info), APD_COPY_NEW_FILES):
        raise OSError(ctypes.get_last_error(), "AddPrinterDriverExW failed")


def add(name: str, port: str, default: bool) -> None:
    import pywintypes
    import win32print

    if DRIVER not in {d["Name"] for d in win32print.EnumPrinterDrivers(None, None, 1)}:
        add_driver()
    info = {  # PRINTER_INFO_2: pywin32 wants every member
        "pServerName": None,
        "pPrinterName": name,
        "pShareName": None,
        "pPortName": port,
        "pDriverName": DRIVER,
        "pComment": None,
        "pLocation": None,
        "pDevMode": pywintypes.DEVMODEType(),
        "pSepFile": None,
        "pPrintProcessor": "WinPrint",
        "pDatatype": "RAW",
        "pParameters": None,
        "pSecurityDescriptor": None,
        "Attributes": 0,
        "Priority": 1,
        "DefaultPriority": 1,
        "StartTime": 0,
        "UntilTime": 0,
        "Status": 0,
        "cJobs": 0,
        "AveragePPM": 0,
    }
    win32print.ClosePrinter(win32print.AddPrinter(None, 2, info))
    if default:
        win32print.SetDefaultPrinter(name)


def remove(name: str) -> None:
    import win32print

    handle = win32print.OpenPrinter(name, {"DesiredAccess": win32print.PRINTER_ALL_ACCESS})
    try:
        win32print.DeletePrinter(handle)
    finally:
        win32print.ClosePrinter(handle)


if __name__ == "__main__":
    if sys.argv[1] == "add":
        add(sys.argv[2], sys.argv[3], "--default" in sys.argv[4:])
    else:
        remove(sys.argv[2])
    print("done")
