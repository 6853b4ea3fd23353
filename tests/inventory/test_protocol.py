"""The inventory on the wire: round trip, digest, bounds, and oversize payloads rejected clearly."""

from __future__ import annotations

import msgspec
import pytest

from agent import protocol
from agent.protocol import Hardware, Inventory, Package, Presence, ProtocolError

INVENTORY = Inventory(
    collected_ns=1_700_000_000_000_000_000,
    hardware=Hardware(vendor="LENOVO", model="ThinkCentre M720q", serial="PF3ABC12", memory_bytes=8 << 30),
    users=["maria.k"],
    network=protocol.Network(
        interfaces=[protocol.Interface("eth0", "wired", "02:00:00:00:00:01", ["10.0.0.21"], True, 1000)],
        gateway="10.0.0.1",
    ),
    printers=[protocol.Printer("reception", "HP LaserJet", "socket://10.0.0.5:9100", "10.0.0.5", True)],
    software_source="dpkg",
    software=[Package("firefox-esr", "115.9.1esr-1", 5), Package("libreoffice-core", "4:7.4.7-1")],
    software_total=2,
)


def birth(inventory: Inventory | None = INVENTORY) -> Presence:
    return Presence(v=1, agent_id="pc-1", status="online", inventory=inventory)


def test_birth_with_inventory_round_trips() -> None:
    assert protocol.decode(protocol.encode(birth()), Presence) == birth()


def test_packages_travel_as_arrays() -> None:
    wire = msgspec.json.decode(protocol.encode(birth()))
    assert wire["inventory"]["software"] == [
        ["firefox-esr", "115.9.1esr-1", 5],
        ["libreoffice-core", "4:7.4.7-1", 0],
    ]


def test_birth_without_inventory_still_decodes() -> None:
    assert protocol.decode(protocol.encode(birth(None)), Presence).inventory is None


def test_digest_ignores_collection_time_only() -> None:
    later = msgspec.structs.replace(INVENTORY, collected_ns=INVENTORY.collected_ns + 1)
    assert protocol.inventory_digest(later) == protocol.inventory_digest(INVENTORY)
    updated = msgspec.structs.replace(INVENTORY, software=[Package("firefox-esr", "115.10.0esr-1")])
    assert protocol.inventory_digest(updated) != protocol.inventory_digest(INVENTORY)


def test_bound_inventory_cuts_lists_and_strings_to_fit() -> None:
    huge = msgspec.structs.replace(
        INVENTORY,
        hardware=Hardware(model="M" * 5000, disks=[protocol.Disk(f"sd{i}") for i in range(500)]),
        software=[Package(f"pkg-{i:05d}", "1.0-" + "x" * 100) for i in range(20_000)],
        software_total=0,
    )
    cut = protocol.bound_inventory(huge)
    assert len(cut.hardware.model) == 256 and len(cut.hardware.disks) == protocol.MAX_LIST
    assert cut.software_total == 20_000 and 0 < len(cut.software) <= protocol.MAX_PACKAGES
    assert cut.software[0].name == "pkg-00000"  # cut from the end of the sorted list
    assert len(protocol.encode(birth(cut))) <= protocol.MAX_PAYLOAD_BYTES
    assert protocol.decode(protocol.encode(birth(cut)), Presence).inventory == cut


def test_oversize_inventory_is_rejected_with_the_reason() -> None:
    # What an agent that skips bound_inventory() would send: the whole birth is refused.
    big = msgspec.structs.replace(
        INVENTORY, software=[Package(f"pkg-{i:06d}", "1.0" * 20) for i in range(5_000)]
    )
    payload = protocol.encode(birth(big))
    assert len(payload) > protocol.MAX_PAYLOAD_BYTES
    with pytest.raises(ProtocolError, match=r"payload of \d+ bytes exceeds the limit of 262144"):
        protocol.decode(payload, Presence)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"software": [["p", "1"]] * (protocol.MAX_PACKAGES + 1)}, "at `$.inventory.software`"),
        ({"users": ["u" * 200]}, "at `$.inventory.users[0]`"),
        ({"hardware": {"serial": 12}}, "Expected `str`, got `int` - at `$.inventory.hardware.serial`"),
        (
            {"network": {"interfaces": [{"name": "eth0", "kind": "fibre"}]}},
            "$.inventory.network.interfaces[0]",
        ),
        ({"secret": 1}, "unknown field `secret`"),
    ],
)
def test_malformed_inventory_is_rejected(change: dict[str, object], reason: str) -> None:
    raw = msgspec.to_builtins(birth())
    raw["inventory"].update(change)
    with pytest.raises(ProtocolError) as err:
        protocol.decode(msgspec.json.encode(raw), Presence)
    assert reason in err.value.reason
