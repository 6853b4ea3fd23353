"""SNMP GET and multi-column GETBULK walks over pysnmp's asyncio engine; the only pysnmp importer.

Requests are built from numeric OIDs and answers are handed back as `values.VarBind`s
without any MIB lookup, so nothing is compiled or resolved at run time. Each request has
the target's timeout and retries (pysnmp resends on its own); a dead device costs its own
poll that long and nobody else anything, since every device is its own coroutine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any, Final

from pyasn1.type import univ
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import auth as hlauth
from pysnmp.hlapi.v3arch.asyncio.auth import CommunityData, UsmUserData
from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
from pysnmp.hlapi.v3arch.asyncio.transport import UdpTransportTarget
from pysnmp.proto import rfc1902, rfc1905

from agent.snmp.errors import DeviceError, DeviceUnreachable
from agent.snmp.target import Auth, Target
from agent.snmp.values import Oid, ValueKind, VarBind

# Varbinds per GETBULK answer. ~60 keeps a response of typical printer strings under a
# 1500-byte frame most of the time and below snmpsim's default cap of 64.
VARBIND_BUDGET: Final = 60
# Columns per request; more go out as parallel requests.
MAX_COLUMNS_PER_REQUEST: Final = 12
# A table larger than this is cut off: a switch with 10,000 MAC entries must not stall a poll.
MAX_ROWS: Final = 1000

_NO_SUCH_NAME: Final = 2  # SNMPv1 error-status noSuchName (RFC 1157)
_TOO_BIG: Final = 1

_AUTH_PROTOCOLS: Final = {
    "none": hlauth.USM_AUTH_NONE,
    "md5": hlauth.USM_AUTH_HMAC96_MD5,
    "sha": hlauth.USM_AUTH_HMAC96_SHA,
    "sha224": hlauth.USM_AUTH_HMAC128_SHA224,
    "sha256": hlauth.USM_AUTH_HMAC192_SHA256,
    "sha384": hlauth.USM_AUTH_HMAC256_SHA384,
    "sha512": hlauth.USM_AUTH_HMAC384_SHA512,
}
_PRIV_PROTOCOLS: Final = {
    "none": hlauth.USM_PRIV_NONE,
    "des": hlauth.USM_PRIV_CBC56_DES,
    "3des": hlauth.USM_PRIV_CBC168_3DES,
    "aes": hlauth.USM_PRIV_CFB128_AES,
    "aes192": hlauth.USM_PRIV_CFB192_AES,
    "aes256": hlauth.USM_PRIV_CFB256_AES,
}


def _varbind(name: Any, value: Any) -> VarBind:
    """A pysnmp (ObjectName, value) pair as a plain VarBind."""
    oid: Oid = tuple(name)
    # Order matters: IpAddress and Opaque are OctetString subclasses, the exceptions are Nulls.
    if isinstance(value, rfc1905.EndOfMibView):
        return VarBind(oid, ValueKind.END_OF_MIB_VIEW)
    if isinstance(value, rfc1905.NoSuchObject):
        return VarBind(oid, ValueKind.NO_SUCH_OBJECT)
    if isinstance(value, rfc1905.NoSuchInstance):
        return VarBind(oid, ValueKind.NO_SUCH_INSTANCE)
    if isinstance(value, rfc1902.Counter64):
        return VarBind(oid, ValueKind.COUNTER64, int(value))
    if isinstance(value, rfc1902.Counter32):
        return VarBind(oid, ValueKind.COUNTER32, int(value))
    if isinstance(value, rfc1902.TimeTicks):
        return VarBind(oid, ValueKind.TIMETICKS, int(value))
    if isinstance(value, rfc1902.Gauge32 | rfc1902.Unsigned32):
        return VarBind(oid, ValueKind.GAUGE32, int(value))
    if isinstance(value, univ.Integer):  # INTEGER/Integer32 arrive as the plain pyasn1 type
        return VarBind(oid, ValueKind.INTEGER, int(value))
    if isinstance(value, rfc1902.IpAddress):
        return VarBind(oid, ValueKind.IP_ADDRESS, value.asOctets())
    if isinstance(value, rfc1902.Opaque):
        return VarBind(oid, ValueKind.OPAQUE, value.asOctets())
    if isinstance(value, univ.OctetString):
        return VarBind(oid, ValueKind.OCTETS, value.asOctets())
    if isinstance(value, univ.ObjectIdentifier):
        return VarBind(oid, ValueKind.OID, tuple(value))
    return VarBind(oid, ValueKind.NULL)


class Client:
    """One SNMP engine shared by all devices of an agent; `close()` releases its socket."""

    def __init__(self) -> None:
        self._engine = SnmpEngine()
        self._lcd = CommandGeneratorLcdConfigurator()
        self._transports: dict[tuple[str, int, float, int], UdpTransportTarget] = {}

    def close(self) -> None:
        """Close the UDP transport of the engine."""
        dispatcher = self._engine.transport_dispatcher
        if dispatcher is not None:
            dispatcher.close_dispatcher()

    async def _transport(self, target: Target) -> UdpTransportTarget:
        key = (target.host, target.port, target.timeout_seconds, target.retries)
        transport = self._transports.get(key)
        if transport is None:
            try:
                transport = await UdpTransportTarget.create(
                    (target.host, target.port), timeout=target.timeout_seconds, retries=target.retries
                )
            except PySnmpError as err:
                raise DeviceUnreachable(f"{target.address}: {err}") from err
            except (UnicodeError, OSError) as err:  # a host name the resolver cannot even encode or look up
                raise DeviceUnreachable(f"{target.address}: cannot resolve the host name ({err})") from err
            self._transports[key] = transport
        return transport

    @staticmethod
    def _auth_data(auth: Auth) -> CommunityData | UsmUserData:
        if auth.version != "3":
            return CommunityData(auth.community, mpModel=0 if auth.version == "1" else 1)
        level = auth.level
        return UsmUserData(
            auth.user,
            authKey=auth.auth_key or None,
            privKey=auth.priv_key or None if level == "authPriv" else None,
            authProtocol=_AUTH_PROTOCOLS[auth.auth_protocol]
            if level != "noAuthNoPriv"
            else hlauth.USM_AUTH_NONE,
            privProtocol=_PRIV_PROTOCOLS[auth.priv_protocol] if level == "authPriv" else hlauth.USM_PRIV_NONE,
        )

    async def _request(
        self, target: Target, oids: Sequence[Oid], *, bulk: int = 0, next_: bool = False
    ) -> tuple[int, int, list[VarBind]]:
        """One PDU: GET, GETNEXT (next_) or GETBULK (bulk = max-repetitions); -> (status, index, varbinds)."""
        transport = await self._transport(target)
        try:
            addr_name, _ = self._lcd.configure(
                self._engine, self._auth_data(target.auth), transport, target.auth.context
            )
        except PySnmpError as err:
            raise DeviceError(f"{target.address}: {err}") from err
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, int, list[VarBind]]] = loop.create_future()

        def done(
            _engine: Any, _handle: Any, indication: Any, status: Any, index: Any, var_binds: Any, _ctx: Any
        ) -> None:
            if future.cancelled():
                return
            if indication:
                future.set_exception(DeviceUnreachable(f"{target.address}: {indication}"))
                return
            try:
                future.set_result((int(status), int(index), [_varbind(n, v) for n, v in var_binds]))
            except Exception as err:  # a malformed answer must fail this request, not the loop
                future.set_exception(DeviceError(f"{target.address}: undecodable answer: {err}"))

        request = [(rfc1902.ObjectName(oid), rfc1902.Null("")) for oid in oids]
        context = target.auth.context.encode()
        try:
            if bulk:
                cmdgen.BulkCommandGenerator().send_varbinds(
                    self._engine, addr_name, None, context, 0, bulk, request, done, None
                )
            elif next_:
                cmdgen.NextCommandGenerator().send_varbinds(
                    self._engine, addr_name, None, context, request, done, None
                )
            else:
                cmdgen.GetCommandGenerator().send_varbinds(
                    self._engine, addr_name, None, context, request, done, None
                )
        except PySnmpError as err:
            raise DeviceUnreachable(f"{target.address}: {err}") from err
        return await future

    async def get(self, target: Target, oids: Sequence[Oid]) -> list[VarBind]:
        """GET scalars; a missing object comes back as a noSuchObject/noSuchInstance VarBind."""
        wanted = list(oids)
        answered: dict[Oid, VarBind] = {}
        while wanted:
            status, index, vbs = await self._request(target, wanted)
            if status == _NO_SUCH_NAME and 1 <= index <= len(wanted):
                # SNMPv1 fails the whole GET for one missing object: drop it and ask again.
                missing = wanted.pop(index - 1)
                answered[missing] = VarBind(missing, ValueKind.NO_SUCH_OBJECT)
                continue
            if status:
                raise DeviceError(f"{target.address}: GET error-status {status} at {index}")
            answered.update((vb.oid, vb) for vb in vbs)
            break
        return [answered.get(oid, VarBind(oid, ValueKind.NO_SUCH_OBJECT)) for oid in oids]

    async def walk(
        self, target: Target, columns: Iterable[Oid], max_rows: int = MAX_ROWS
    ) -> dict[Oid, list[VarBind]]:
        """Read table columns (or any subtrees) side by side; -> the varbinds under each column, in order.

        A first round asks each table (the entry OID above a column) for its first object
        only: most tables the profiles list are absent on a given device (no DSL or DOCSIS
        on a printer), and one varbind per table tells so, where a full GETBULK for each
        column would make the device send, and us decode, screens of unrelated objects.
        A second round asks the columns of the tables that answered for one row each; the
        columns that have one are then read in bulk, a few per request, in parallel.
        """
        cols = list(dict.fromkeys(columns))
        rows: dict[Oid, list[VarBind]] = {c: [] for c in cols}
        present = await self._present_tables(target, list(dict.fromkeys(c[:-1] for c in cols)))
        cursor: dict[Oid, Oid] = {c: c for c in cols if c[:-1] in present}
        # Then each column of those tables for one row: a table has columns a device leaves out
        # (no 64-bit counters on a printer's ifXTable), and a bulk request for an absent
        # column would bring back rows of the next one.
        asked = [c for c in cols if c in cursor]
        probes = [asked[i : i + VARBIND_BUDGET] for i in range(0, len(asked), VARBIND_BUDGET)]
        await asyncio.gather(*(self._walk_round(target, p, rows, cursor, 1, max_rows) for p in probes))
        open_cols = [c for c in cols if c in cursor]
        chunks = [
            open_cols[i : i + MAX_COLUMNS_PER_REQUEST]
            for i in range(0, len(open_cols), MAX_COLUMNS_PER_REQUEST)
        ]
        await asyncio.gather(*(self._walk_chunk(target, c, rows, cursor, max_rows) for c in chunks))
        return rows

    async def _present_tables(self, target: Target, entries: list[Oid]) -> set[Oid]:
        """The entries (tables) that have any object: one GETNEXT-like step for each."""
        present: set[Oid] = set()

        async def probe(chunk: list[Oid]) -> None:
            found: dict[Oid, list[VarBind]] = {e: [] for e in chunk}
            cursor = {e: e for e in chunk}
            await self._walk_round(target, chunk, found, cursor, 1, 1)
            present.update(e for e, vbs in found.items() if vbs)

        chunks = [entries[i : i + VARBIND_BUDGET] for i in range(0, len(entries), VARBIND_BUDGET)]
        await asyncio.gather(*(probe(c) for c in chunks))
        return present

    async def _walk_chunk(
        self,
        target: Target,
        columns: list[Oid],
        rows: dict[Oid, list[VarBind]],
        cursor: dict[Oid, Oid],
        max_rows: int,
    ) -> None:
        budget = VARBIND_BUDGET
        while True:
            active = [c for c in columns if c in cursor]
            if not active:
                return
            reps = max(1, min(target.max_repetitions, budget // len(active)))
            progressed = await self._walk_round(target, active, rows, cursor, reps, max_rows)
            if progressed is None:  # tooBig: ask for less
                if budget <= len(active):
                    raise DeviceError(f"{target.address}: answers too big even for one row per column")
                budget = max(len(active), budget // 2)
            elif not progressed:
                return

    async def _walk_round(
        self,
        target: Target,
        active: list[Oid],
        rows: dict[Oid, list[VarBind]],
        cursor: dict[Oid, Oid],
        reps: int,
        max_rows: int,
    ) -> bool | None:
        """One GETBULK (GETNEXT for v1) for the `active` columns; -> progress made, None on tooBig."""
        v1 = target.auth.version == "1"
        while True:
            status, index, vbs = await self._request(
                target, [cursor[c] for c in active], bulk=0 if v1 else reps, next_=v1
            )
            if status == _NO_SUCH_NAME and v1 and 1 <= index <= len(active):
                del cursor[active[index - 1]]  # SNMPv1 end of the MIB view for that column
                active = [c for c in active if c in cursor]
                if not active:
                    return False
                continue
            break
        if status == _TOO_BIG and reps > 1:
            return None
        if status:
            raise DeviceError(f"{target.address}: GETBULK error-status {status} at {index}")
        closed: set[Oid] = set()
        progressed = False
        for i, vb in enumerate(vbs):
            column = active[i % len(active)]
            if column in closed:
                continue
            last = cursor[column]
            # Stop a column at its subtree's end, at endOfMibView, and at an OID that does
            # not increase (a broken agent that would otherwise make us loop forever).
            if vb.kind == ValueKind.END_OF_MIB_VIEW or vb.oid[: len(column)] != column or vb.oid <= last:
                closed.add(column)
                continue
            rows[column].append(vb)
            cursor[column] = vb.oid
            progressed = True
            if len(rows[column]) >= max_rows:
                closed.add(column)
        for column in closed:
            cursor.pop(column, None)
        return progressed
