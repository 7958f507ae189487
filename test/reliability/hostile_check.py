"""Check a sockdemo server's stdout after hostile bytes went through it.

    python3 hostile_check.py '{"file": ..., "mode": "literal"|"hex"|"json",
                               "proto": "tcp"|"udp", "prefix": "Receive: ",
                               "expected": {"ADDR PORT": {"path": ..., "lengths": [...]}}}'

- every byte of the file is printable ASCII (0x20-0x7e) or \\n: no ESC, no CR,
  no tab, nothing above 0x7e;
- literal mode: every `data:` and `reply:` payload is a bytes literal that
  ast.literal_eval turns back into bytes, and that is exactly repr() of those
  bytes (so the display is Python's own);
- hex mode: every payload's dump lines parse back to the bytes, with offsets
  that continue the connection's stream and an ASCII gutter that matches;
- json mode: every line is a JSON object, and `base64` decodes to `bytes` bytes;
- per peer, the data payloads concatenated equal the expected file (for UDP
  also datagram by datagram, via `lengths`), and every reply is prefix + the
  data payload just before it.
Prints one JSON object: {"ok": ..., "problems": [...], ...}.
"""

import ast
import base64
import json
import re
import sys

spec = json.loads(sys.argv[1])
mode, proto = spec["mode"], spec["proto"]
prefix = spec["prefix"].encode()
raw = open(spec["file"], "rb").read()
problems = []


def problem(text):
    if len(problems) < 20:
        problems.append(text)


bad = [b for b in raw if not (0x20 <= b <= 0x7E or b == 0x0A)]
if bad:
    problem(f"{len(bad)} bytes outside printable ASCII + \\n, e.g. {sorted(set(bad))[:10]}")
text = raw.decode("ascii", errors="replace")
lines = text.split("\n")
if lines and lines[-1] == "":
    lines.pop()

TUPLE = r"\('([0-9a-f:.]+)', (\d+)(?:, 0, 0)?\)"
data = {}  # peer -> list of payloads
replies = {}  # peer -> list of (payload, data index it answers)
offsets = {}  # (peer, kind) -> next stream offset (hex mode, TCP)


def record(kind, peer, payload):
    if kind == "data":
        data.setdefault(peer, []).append(payload)
    else:
        got = data.get(peer, [])
        if not got:
            problem(f"reply to {peer} before any data")
        elif payload != prefix + got[-1]:
            problem(f"reply {len(replies.get(peer, []))} to {peer} is not prefix + its data chunk")
        replies.setdefault(peer, []).append(payload)


if mode == "json":
    for n, line in enumerate(lines):
        try:
            event = json.loads(line)
        except ValueError as error:
            problem(f"line {n + 1} is not JSON: {error}")
            continue
        if not isinstance(event, dict) or "event" not in event:
            problem(f"line {n + 1} is not an event object")
            continue
        if "base64" in event:
            payload = base64.b64decode(event["base64"], validate=True)
            if len(payload) != event.get("bytes"):
                problem(f"line {n + 1}: base64 holds {len(payload)} bytes, says {event.get('bytes')}")
            if event["event"] in ("data", "reply"):
                peer = f"{event['peer']['address']} {event['peer']['port']}"
                record(event["event"], peer, payload)
else:
    LITERAL_HEAD = re.compile(
        r"^(?:at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{6})? )?(data|reply): {1,2}(.*) addr:  " + TUPLE + r"$"
    )
    DUMP = re.compile(r"^([0-9a-f]{8})  (.{49}) \|(.*)\|$")
    GUTTER = {b: "." for b in range(256) if not 0x20 <= b < 0x7F}
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        head = LITERAL_HEAD.match(line)
        if not head:
            if re.match(r"^(?:at .* )?(data|reply):", line):
                problem(f"line {i}: a payload line that does not parse: {line[:120]!r}")
            continue
        kind, body, peer = head.group(1), head.group(2), f"{head.group(3)} {head.group(4)}"
        if mode == "literal":
            try:
                payload = ast.literal_eval(body)
            except (ValueError, SyntaxError) as error:
                problem(f"line {i}: literal does not parse: {error}")
                continue
            if not isinstance(payload, bytes):
                problem(f"line {i}: literal is {type(payload).__name__}, not bytes")
                continue
            if repr(payload) != body:
                problem(f"line {i}: literal is not Python's repr of its bytes")
        else:
            count = re.fullmatch(r"(\d+) bytes?", body)
            if not count:
                problem(f"line {i}: hex mode payload is not a byte count: {body[:60]!r}")
                continue
            want = int(count.group(1))
            payload = bytearray()
            start = None
            while i < len(lines) and DUMP.match(lines[i]):
                dump = DUMP.match(lines[i])
                offset, columns, gutter = int(dump.group(1), 16), dump.group(2), dump.group(3)
                row = bytes.fromhex(columns)
                if start is None:
                    start = offset
                elif offset != start + len(payload):
                    problem(f"line {i + 1}: dump offset {offset:x} does not continue")
                shown = row.decode("latin1").translate(GUTTER)
                if gutter != shown:
                    problem(f"line {i + 1}: ASCII gutter does not match the bytes")
                payload += row
                i += 1
            payload = bytes(payload)
            if len(payload) != want:
                problem(f"payload says {want} bytes, the dump holds {len(payload)}")
            if proto == "tcp" and start is not None:
                key = (peer, kind)
                expect = offsets.get(key, 0)
                if start != expect:
                    problem(f"{kind} dump for {peer} starts at {start:x}, stream is at {expect:x}")
                offsets[key] = start + len(payload)
            elif proto == "udp" and start not in (None, 0):
                problem(f"UDP dump starts at {start:x}, not 0")
        record(kind, peer, payload)

checked = {}
for peer, want in spec["expected"].items():
    expected = open(want["path"], "rb").read()
    got = data.get(peer, [])
    joined = b"".join(got)
    checked[peer] = len(joined)
    if joined != expected:
        at = next((k for k in range(min(len(joined), len(expected))) if joined[k] != expected[k]), None)
        problem(f"{peer}: data holds {len(joined)} bytes, expected {len(expected)}; first difference at {at}")
    lengths = want.get("lengths")
    if lengths is not None and [len(p) for p in got] != lengths:
        problem(f"{peer}: datagram lengths {[len(p) for p in got][:10]}... != {lengths[:10]}...")
    if spec.get("replies", True) and len(replies.get(peer, [])) != len(got):
        problem(f"{peer}: {len(got)} data payloads but {len(replies.get(peer, []))} replies")
for peer in data:
    if peer not in spec["expected"]:
        problem(f"data from unexpected peer {peer}")

print(
    json.dumps(
        {
            "ok": not problems,
            "problems": problems,
            "lines": len(lines),
            "fileBytes": len(raw),
            "dataPayloads": sum(len(v) for v in data.values()),
            "replyPayloads": sum(len(v) for v in replies.values()),
            "bytesChecked": checked,
        }
    )
)
