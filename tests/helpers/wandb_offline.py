"""Read a W&B offline run (`run-*.wandb`) back from disk, as `wandb sync` would upload it.

wandb >= 0.2x writes the file from its Go core and ships no Python reader, so this decodes the
format directly: a 7-byte header (":W&B", magic 0xBEE1, version), then LevelDB-log records in
32 KiB blocks (7-byte record headers: crc, length, type FULL/FIRST/MIDDLE/LAST), each a protobuf
`Record`. Each record's CRC (zlib's crc32 of its type byte and data) is checked: the file is read
right after `wandb.finish()`, and on a loaded machine the writer was once seen still writing it
(a record that did not parse), so an incomplete or corrupt file is read again after a pause.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path

BLOCK = 32 * 1024
HEADER = struct.Struct("<4sHB")
RECORD_HEADER = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


class IncompleteRun(Exception):
    """A record cut short or failing its CRC: the file is not (yet) what the writer will leave."""


def read_records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    ident, magic, _ = HEADER.unpack_from(data)
    assert ident == b":W&B" and magic == 0xBEE1, f"{path} is not a W&B run file"
    records, pending, pos = [], b"", HEADER.size
    while pos + RECORD_HEADER.size <= len(data):
        left = BLOCK - pos % BLOCK
        if left < RECORD_HEADER.size:  # block trailer padding
            pos += left
            continue
        crc, length, kind = RECORD_HEADER.unpack_from(data, pos)
        pos += RECORD_HEADER.size
        if kind == 0 and length == 0:
            pos += (BLOCK - pos % BLOCK) % BLOCK
            continue
        chunk, pos = data[pos : pos + length], pos + length
        if len(chunk) < length or zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            raise IncompleteRun(f"{path}: record at byte {pos - length} is cut short or fails its CRC")
        if kind == FULL:
            records.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            records.append(pending + chunk)
    return records


def _items(items) -> dict:
    """Items keyed by `key`, or by a `nested_key` path (one dict level per part)."""
    out: dict = {}
    for item in items:
        path = list(item.nested_key) or [item.key]
        target = out
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = json.loads(item.value_json)
    return out


def read_offline_run(run_dir: Path, attempts: int = 20) -> dict:
    """{"history", "summary", "config", "artifacts"} of an offline run directory."""
    from wandb.proto import wandb_internal_pb2

    [data_file] = Path(run_dir).glob("*.wandb")
    for attempt in range(attempts):
        try:
            raws = read_records(data_file)
            break
        except IncompleteRun:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    history, summary, config, artifacts = [], {}, {}, []
    for raw in raws:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append(_items(record.history.item))
        elif kind == "summary":
            _merge(summary, _items(record.summary.update))
        elif kind == "config":
            config.update(_items(record.config.update))
        elif kind == "artifact":
            artifacts.append(
                {
                    "type": record.artifact.type,
                    "name": record.artifact.name,
                    "files": [entry.path for entry in record.artifact.manifest.contents],
                }
            )
    return {"history": history, "summary": summary, "config": config, "artifacts": artifacts}


def _merge(into: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
