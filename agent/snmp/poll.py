"""Poll one device: identify it, pick its profiles, read them, and return a DeviceReport.

Two rounds: a GET of the generic scalars (sysObjectID decides which vendor profiles
apply), then the vendor scalars and every table column, side by side. Any SNMP error
turns into an unreachable report with the reason; nothing escapes to the caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence

from agent.snmp.client import Client
from agent.snmp.errors import SnmpError
from agent.snmp.profile import Profile, column_oids, extract, scalar_oids
from agent.snmp.report import DeviceReport, build_report, unreachable_report
from agent.snmp.target import Target
from agent.snmp.values import Oid, VarBind, as_oid, as_text

log = logging.getLogger(__name__)

_SYS_OBJECT_ID: Oid = (1, 3, 6, 1, 2, 1, 1, 2, 0)  # sysObjectID.0
_SYS_DESCR: Oid = (1, 3, 6, 1, 2, 1, 1, 1, 0)  # sysDescr.0


def deadline_seconds(target: Target) -> float:
    """How long one poll may take in all: a few request rounds, each with its retries."""
    return target.timeout_seconds * (target.retries + 1) * 4 + 1


async def poll(
    client: Client,
    target: Target,
    profiles: Sequence[Profile],
    vendor_names: Mapping[int, str],
    *,
    known_key: str = "",
) -> DeviceReport:
    """Poll `target` with the matching `profiles`; an unreachable device is a report, not an exception."""
    started = time.perf_counter()
    try:
        return await asyncio.wait_for(
            _poll(client, target, profiles, vendor_names, started), deadline_seconds(target)
        )
    except (SnmpError, TimeoutError) as err:
        reason = str(err) or "no answer before the poll deadline"
        log.debug("poll of %s failed: %s", target.address, reason)
        return unreachable_report(target.address, reason, known_key, round(time.perf_counter() - started, 4))


async def _poll(
    client: Client,
    target: Target,
    profiles: Sequence[Profile],
    vendor_names: Mapping[int, str],
    started: float,
) -> DeviceReport:
    generic = [p for p in profiles if p.generic]
    first = scalar_oids(generic)
    first += [oid for oid in (_SYS_OBJECT_ID, _SYS_DESCR) if oid not in first]
    answered = {vb.oid: vb for vb in await client.get(target, first)}
    sys_object_id = as_oid(answered[_SYS_OBJECT_ID])
    sys_descr = as_text(answered[_SYS_DESCR])
    vendors = [p for p in profiles if not p.generic and p.matches(sys_object_id, sys_descr)]
    selected = [*generic, *vendors]
    more = [oid for oid in scalar_oids(vendors) if oid not in answered]

    async def vendor_scalars() -> list[VarBind]:
        return await client.get(target, more) if more else []

    extra, columns = await asyncio.gather(vendor_scalars(), client.walk(target, column_oids(selected)))
    answered.update((vb.oid, vb) for vb in extra)
    extraction = extract(selected, answered, columns)
    kinds = [p.kind for p in vendors if p.kind and p.name in extraction.answered]
    return build_report(
        target.address,
        extraction,
        profiles=[p.name for p in selected],
        vendor_names=vendor_names,
        profile_vendor=next((p.vendor for p in reversed(vendors) if p.vendor), None),
        profile_kind=kinds[-1] if kinds else None,
        poll_seconds=round(time.perf_counter() - started, 4),
    )
