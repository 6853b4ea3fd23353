"""Fuzz the C fast lane (scan_batch) under AddressSanitizer: for anyone changing collector/_lines.c.

The C module parses payloads from the network, so it must also pass runs of damaged
payloads with memory errors trapped, beyond the equivalence tests in
tests/collector/test_fast_lane.py (which run without a sanitizer). CI (deploy/test.sh)
runs it for 60 s; after changing collector/_lines.c, run it longer:

    bash tests/support/fuzz_lane.sh 600     # seconds; builds an ASan copy of the module in /tmp

It only looks for crashes and sanitizer reports; what the lane answers is the tests' job.
"""

from __future__ import annotations

import random
import sys
import time

from agent.protocol import MAX_ITEMS_PER_BATCH, encode
from collector import fastlane, line_protocol
from tests.support import fake_agents

ALPHABET = b'{}[]:,"\\-+.0123456789eEabtnu \x00\xff\xc3\x80'


def damaged(rng: random.Random, payload: bytes) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randrange(1, 6)):
        at = rng.randrange(len(data))
        action = rng.random()
        if action < 0.4:
            data[at] = rng.choice(ALPHABET)
        elif action < 0.7:
            del data[at]
        elif action < 0.9:
            data.insert(at, rng.choice(ALPHABET))
        else:
            del data[at:]
        if not data:
            data = bytearray(b"{")
    return bytes(data)


def main(seconds: float) -> int:
    native = line_protocol.native_module()
    if native is None:
        print("collector/_lines.c is not built", file=sys.stderr)
        return 1
    print(f"module: {native.__file__}")
    keep = fastlane.wanted([("cpu", "value"), ("disk", "value")])
    rng = random.Random(1)
    payloads = [
        encode(
            fake_agents.make_batch(
                a, 3, 1_700_000_000_000_000_000 + a, with_state=a % 2 == 0, samples=rng.randrange(1, 30)
            )
        )
        for a in range(200)
    ]
    started, count, taken = time.monotonic(), 0, 0
    while time.monotonic() - started < seconds:
        answer = native.scan_batch(
            damaged(rng, rng.choice(payloads)),
            keep,
            fastlane._batch_tags,
            fastlane._raw_series,
            fastlane._raw_series_parts,
            MAX_ITEMS_PER_BATCH,
        )
        count += 1
        taken += answer is not None
    print(f"{count:,} damaged payloads, {taken:,} taken by the lane, no sanitizer report")
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0))
