#!/usr/bin/python3
"""Produces the fixture record set (see README.md) to fixtures/0 with kafka-python 2.0.2.

Usage: /usr/bin/python3 kafka-python-capture.py <bootstrap> <none|gzip|snappy|lz4|zstd>
Run it with Debian's /usr/bin/python3 (python3-kafka, python3-snappy, python3-lz4,
python3-zstandard), not a pyenv python. kafka-python headers must be bytes, so the second
header has an empty value instead of a null one.
"""
import sys

from kafka import KafkaProducer


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("none", "gzip", "snappy", "lz4", "zstd"):
        print(__doc__, file=sys.stderr)
        return 2
    bootstrap, codec = sys.argv[1], sys.argv[2]
    producer = KafkaProducer(
        bootstrap_servers=[bootstrap],
        client_id="fixture-kafka-python",
        acks=1,
        compression_type=None if codec == "none" else codec,
        linger_ms=1000,
        retries=0,
        request_timeout_ms=10000,
    )
    futures = []
    for i in range(10):
        futures.append(producer.send(
            "fixtures",
            partition=0,
            key=None if i == 3 else f"key-{i}".encode(),
            value=(f"value-{i} " * 25).encode(),
            headers=[("h1", f"v{i}".encode()), ("h2", b"")] if i % 2 == 0 else None,
            timestamp_ms=1700000000000 + i,
        ))
    producer.flush(timeout=20)
    for f in futures:
        print("delivered", f.get(timeout=10))
    producer.close(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
