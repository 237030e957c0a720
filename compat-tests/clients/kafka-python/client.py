#!/usr/bin/python3
"""kafka-python 2.0.2 driver for the compat tests. Prints one JSON object on its last stdout line.

Usage (run with Debian's /usr/bin/python3):
  client.py produce   <bootstrap> <topic> <codec> <count> <base-ts>
  client.py consume   <bootstrap> <topic> <count>               (assign() to partition 0, no group)
  client.py seek-ts   <bootstrap> <topic> <timestamp>           (offsets_for_times, then read one record)
  client.py topics    <bootstrap> <topic>                       (create, describe, alter config, add partitions, delete)
Records: key "key-<i>", value "value-<i>-" + 100 x "v", headers h1="hv-<i>", codec=<codec>, timestamp base-ts + i.
Checksum: sum mod 2^64 of the first 8 bytes (big endian) of md5("key\\tvalue\\ttimestamp\\th1=..,codec=..").
"""
import hashlib
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

PAD = "v" * 100


def line_digest(key, value, ts, headers):
    h = ",".join(f"{k}={'' if v is None else v.decode()}" for k, v in headers)
    text = f"{'' if key is None else key.decode()}\t{'' if value is None else value.decode()}\t{ts}\t{h}"
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "big")


def produce(bootstrap, topic, codec, count, base_ts):
    producer = KafkaProducer(bootstrap_servers=[bootstrap], client_id="compat-kafka-python", acks=1,
                             compression_type=None if codec == "none" else codec,
                             linger_ms=50, batch_size=256 * 1024, max_request_size=4 * 1024 * 1024,
                             buffer_memory=256 * 1024 * 1024, request_timeout_ms=30000, retries=3)
    checksum = 0
    errors = []
    futures = []
    for i in range(count):
        key, value = f"key-{i}".encode(), f"value-{i}-{PAD}".encode()
        headers = [("h1", f"hv-{i}".encode()), ("codec", codec.encode())]
        ts = base_ts + i
        checksum = (checksum + line_digest(key, value, ts, headers)) % (1 << 64)
        futures.append(producer.send(topic, partition=0, key=key, value=value, headers=headers, timestamp_ms=ts))
    producer.flush(timeout=120)
    acked = 0
    for f in futures:
        try:
            f.get(timeout=30)
            acked += 1
        except Exception as e:  # noqa: BLE001
            if len(errors) < 3:
                errors.append(repr(e))
    producer.close(timeout=10)
    return {"count": acked, "checksum": f"{checksum:016x}", "errors": errors}


def consume(bootstrap, topic, count):
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], client_id="compat-kafka-python", group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=16 * 1024 * 1024,
                             max_poll_records=10000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    checksum, seen, deadline = 0, 0, time.time() + 120
    while seen < count and time.time() < deadline:
        for records in consumer.poll(timeout_ms=1000).values():
            for r in records:
                checksum = (checksum + line_digest(r.key, r.value, r.timestamp, r.headers)) % (1 << 64)
                seen += 1
    consumer.close()
    return {"count": seen, "checksum": f"{checksum:016x}"}


def seek_ts(bootstrap, topic, ts):
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], client_id="compat-kafka-python", group_id=None,
                             enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    found = consumer.offsets_for_times({tp: ts})[tp]
    result = {"offset": None if found is None else found.offset}
    if found is not None:
        consumer.assign([tp])
        consumer.seek(tp, found.offset)
        deadline = time.time() + 30
        while "key" not in result and time.time() < deadline:
            for records in consumer.poll(timeout_ms=1000, max_records=1).values():
                result["key"] = records[0].key.decode()
                result["timestamp"] = records[0].timestamp
    consumer.close()
    return result


def topics(bootstrap, topic):
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap], client_id="compat-kafka-python", request_timeout_ms=30000)
    steps = {}
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                                  topic_configs={"retention.ms": "3600000"})])
    steps["created"] = topic in admin.list_topics()
    described = admin.describe_topics([topic])
    steps["partitions"] = len(described[0]["partitions"])
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "7200000"})])
    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    entries = {e[0]: e[1] for e in configs[0].resources[0][4]}
    steps["retention.ms"] = entries.get("retention.ms")
    admin.create_partitions({topic: NewPartitions(total_count=4)})
    steps["partitions_after"] = len(admin.describe_topics([topic])[0]["partitions"])
    admin.delete_topics([topic])
    deadline = time.time() + 10
    while topic in admin.list_topics() and time.time() < deadline:
        time.sleep(0.2)
    steps["deleted"] = topic not in admin.list_topics()
    admin.close()
    return steps


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "produce":
        out = produce(args[0], args[1], args[2], int(args[3]), int(args[4]))
    elif cmd == "consume":
        out = consume(args[0], args[1], int(args[2]))
    elif cmd == "seek-ts":
        out = seek_ts(args[0], args[1], int(args[2]))
    elif cmd == "topics":
        out = topics(args[0], args[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
