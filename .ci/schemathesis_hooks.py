"""Schemathesis hooks for .ci/schemathesis.sh.

The document says what the server accepts, so generated bodies of POST /v1/enroll and
POST /v1/sync speak the server's protocol and name a random device. Two changes reach the
code behind those checks as well as the checks themselves:
- most sync bodies name the enrolled device (FIELDVISIT_FUZZ_DEVICE), so that they reach the
  push (verification of the pushed operations) and the pull (a page of the device's feed); the
  rest are refused as wrong_device;
- one body in eight speaks another protocol version, refused as unsupported_protocol.
Which body gets what depends only on the body, so a failing case replays as it ran.
"""

import os
import zlib

import schemathesis

DEVICE = os.environ.get("FIELDVISIT_FUZZ_DEVICE")


def _draw(body):
    return zlib.crc32(repr(sorted(body.items(), key=lambda kv: kv[0])).encode())


def _another_protocol(body, draw):
    if draw % 8 == 0 and isinstance(body.get("protocol"), int):
        body["protocol"] = body["protocol"] + 1 + (draw >> 3) % 1000


@schemathesis.hook("map_body").apply_to(path="/v1/sync", method="POST")
def sync_as_the_enrolled_device(context, body):
    if isinstance(body, dict):
        draw = _draw(body)
        if DEVICE and draw % 4 != 1:
            body["device"] = DEVICE
        _another_protocol(body, draw)
    return body


@schemathesis.hook("map_body").apply_to(path="/v1/enroll", method="POST")
def enroll_now_and_then_in_another_protocol(context, body):
    if isinstance(body, dict):
        _another_protocol(body, _draw(body))
    return body
