"""Read an offline W&B run file (run-*.wandb) without a server, to check what was logged.

The file is W&B's LevelDB-style log: a 7-byte header (":W&B", magic, version), then 32 KiB
blocks of records (crc32, length, type FULL/FIRST/MIDDLE/LAST), each payload a protobuf Record.
"""

from __future__ import annotations

import struct
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path):
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", "not a W&B run file"
    pos, pending = HEADER, b""
    while pos + 7 <= len(data):
        left = BLOCK - (pos % BLOCK)
        if left < 7:  # block trailer padding
            pos += left
            continue
        _, length, kind = struct.unpack_from("<IHB", data, pos)
        payload = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        pending += payload
        if kind in (1, 4):  # FULL or LAST
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def logged(path: Path) -> dict[str, set[str]]:
    """Keys seen per record type: config, history (logged metrics), summary."""
    out: dict[str, set[str]] = {"config": set(), "history": set(), "summary": set()}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "config":
            out["config"] |= {item.key for item in record.config.update}
        elif kind == "run":  # the config given to wandb.init arrives with the run record
            out["config"] |= {item.key for item in record.run.config.update}
        elif kind == "history":
            out["history"] |= {
                item.key or "/".join(item.nested_key) for item in record.history.item
            }
        elif kind == "summary":
            out["summary"] |= {
                item.key or "/".join(item.nested_key) for item in record.summary.update
            }
    return out
