#!/usr/bin/python3
"""kafka-python 2.0.2 driver for the compat tests. Prints one JSON object on its last stdout line.

Usage (run with Debian's /usr/bin/python3):
  client.py produce   <bootstrap> <topic> <codec> <count> <base-ts>
  client.py consume   <bootstrap> <topic> <count>               (assign() to partition 0, no group)
  client.py seek-ts   <bootstrap> <topic> <timestamp>           (offsets_for_times, then read one record)
  client.py topics    <bootstrap> <topic>                       (create, describe, alter config, add partitions, delete)
  client.py group     <bootstrap> <topic> <group> <range|roundrobin> <count> <base-ts>   (three members share six partitions; one leaves)
  client.py produce-spread <bootstrap> <topic> <partitions> <count> <base-ts>   (record i to partition i % partitions)
  client.py consume-group  <bootstrap> <topic> <group> <max>    (one member reads up to max records, commits, closes)
  client.py group-admin    <bootstrap> <topic> <group>          (list, describe, list offsets, delete group)
  client.py acls      <bootstrap> <topic>                       (describe, create, delete ACLs: each call's error)
Records: key "key-<i>", value "value-<i>-" + 100 x "v", headers h1="hv-<i>", codec=<codec>, timestamp base-ts + i.
Checksum: sum mod 2^64 of the first 8 bytes (big endian) of md5("key\\tvalue\\ttimestamp\\th1=..,codec=..").
"""
import hashlib
import json
import sys
import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.errors import KafkaError, TopicAlreadyExistsError

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


GROUP_PARTITIONS = 6


def create_topic(bootstrap, topic, partitions):
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap], client_id="compat-kafka-python", request_timeout_ms=30000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass
    admin.close()


def produce_spread(bootstrap, topic, partitions, first, count, base_ts):
    """Records first..first+count-1 (codec none), record i to partition i % partitions."""
    producer = KafkaProducer(bootstrap_servers=[bootstrap], client_id="compat-kafka-python", acks="all", linger_ms=5)
    futures = []
    for i in range(first, first + count):
        headers = [("h1", f"hv-{i}".encode()), ("codec", b"none")]
        futures.append(producer.send(topic, partition=i % partitions, key=f"key-{i}".encode(),
                                     value=f"value-{i}-{PAD}".encode(), headers=headers, timestamp_ms=base_ts + i))
    producer.flush(timeout=60)
    for f in futures:
        f.get(timeout=30)
    producer.close(timeout=10)


class Tally:
    """What all members of a run consumed: (partition, offset) pairs seen, count, checksum."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = set()
        self.count = self.duplicates = self.checksum = 0

    def add(self, r):
        with self.lock:
            if (r.partition, r.offset) in self.seen:
                self.duplicates += 1
            self.seen.add((r.partition, r.offset))
            self.checksum = (self.checksum + line_digest(r.key, r.value, r.timestamp, r.headers)) % (1 << 64)
            self.count += 1


def group_consumer(bootstrap, group, strategy="range"):
    assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[strategy]
    return KafkaConsumer(partition_assignment_strategy=[assignor], bootstrap_servers=[bootstrap], client_id="compat-kafka-python", group_id=group,
                         enable_auto_commit=False, auto_offset_reset="earliest", session_timeout_ms=6000,
                         heartbeat_interval_ms=500, max_poll_interval_ms=60000, max_poll_records=500)


class Member(threading.Thread):
    """A group member polling on its own thread; each poll's records are committed before the next poll."""

    def __init__(self, bootstrap, topic, group, tally, errors, strategy="range"):
        super().__init__(daemon=True)
        self.consumer = group_consumer(bootstrap, group, strategy)
        self.consumer.subscribe([topic])
        self.tally, self.errors = tally, errors
        self.assigned = []
        self.stopping = False
        self.start()

    def run(self):
        while not self.stopping:
            try:
                batches = self.consumer.poll(timeout_ms=100)
                offsets = {}
                for tp, records in batches.items():
                    for r in records:
                        self.tally.add(r)
                        offsets[tp] = OffsetAndMetadata(r.offset + 1, None)
                if offsets:
                    self.consumer.commit(offsets)
            except KafkaError as e:
                self.errors.append(repr(e))
            self.assigned = sorted(tp.partition for tp in self.consumer.assignment())

    def close(self):
        """Stops polling and closes the consumer, which sends LeaveGroup."""
        self.stopping = True
        self.join()
        self.consumer.close(autocommit=False)


def wait_balanced(members, partitions, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assigned = [p for m in members for p in m.assigned]
        if all(m.assigned for m in members) and sorted(assigned) == list(range(partitions)):
            return True
        time.sleep(0.05)
    return False


def wait_count(tally, count, timeout):
    deadline = time.time() + timeout
    while tally.count < count and time.time() < deadline:
        time.sleep(0.05)
    return tally.count >= count


def group(bootstrap, topic, group_id, strategy, count, base_ts):
    """Three members share a six-partition topic; half the records are consumed, member 3 leaves (close),
    the other two take over its partitions, then the rest is consumed."""
    create_topic(bootstrap, topic, GROUP_PARTITIONS)
    tally, errors, out = Tally(), [], {}
    members = [Member(bootstrap, topic, group_id, tally, errors, strategy) for _ in range(3)]
    try:
        out["balanced"] = wait_balanced(members, GROUP_PARTITIONS, 60)
        out["initial"] = [m.assigned for m in members]
        produce_spread(bootstrap, topic, GROUP_PARTITIONS, 0, count // 2, base_ts)
        out["first_half_consumed"] = wait_count(tally, count // 2, 60)
        gone = members.pop()
        started = time.time()
        gone.close()
        out["moved"] = wait_balanced(members, GROUP_PARTITIONS, 60)
        out["moved_ms"] = int((time.time() - started) * 1000)
        out["after"] = [m.assigned for m in members]
        produce_spread(bootstrap, topic, GROUP_PARTITIONS, count // 2, count - count // 2, base_ts)
        wait_count(tally, count, 60)
        time.sleep(1)  # a duplicate delivered late would still be counted
        checker = KafkaConsumer(bootstrap_servers=[bootstrap], group_id=group_id, enable_auto_commit=False)
        out["committed"] = sum(checker.committed(TopicPartition(topic, p)) or 0 for p in range(GROUP_PARTITIONS))
        checker.close(autocommit=False)
    finally:
        for m in members:
            m.close()
    out.update(count=tally.count, duplicates=tally.duplicates, checksum=f"{tally.checksum:016x}", errors=errors[:5])
    return out


def consume_group(bootstrap, topic, group_id, max_records):
    """One member reads up to max_records, committing each record before the next, then closes."""
    consumer = group_consumer(bootstrap, group_id)
    consumer.subscribe([topic])
    tally, first, committed, error = Tally(), {}, {}, None
    deadline = time.time() + 60
    while tally.count < max_records and time.time() < deadline:
        try:
            for tp, records in consumer.poll(timeout_ms=200, max_records=max_records - tally.count).items():
                for r in records:
                    tally.add(r)
                    first.setdefault(str(tp.partition), r.offset)
                    committed[str(tp.partition)] = r.offset + 1
                    consumer.commit({tp: OffsetAndMetadata(r.offset + 1, None)})
        except KafkaError as e:
            error = repr(e)
    consumer.close(autocommit=False)
    return {"count": tally.count, "checksum": f"{tally.checksum:016x}", "duplicates": tally.duplicates,
            "first": first, "committed": committed, "error": error}


def describe(admin, group_id, member_id):
    g = admin.describe_consumer_groups([group_id])[0]
    members = []
    for m in g.members:
        assignment = m.member_assignment.assignment if m.member_assignment else []
        members.append({"is_member": m.member_id == member_id, "client_id": m.client_id, "host": m.client_host,
                        "assignment": sorted(f"{t}:{p}" for t, ps in assignment for p in ps)})
    return {"error": g.error_code, "state": g.state, "protocol_type": g.protocol_type, "protocol": g.protocol,
            "members": members}


def offsets(admin, group_id):
    return {f"{tp.topic}:{tp.partition}": o.offset for tp, o in admin.list_consumer_group_offsets(group_id).items()}


def group_admin(bootstrap, topic, group_id):
    """KafkaAdminClient's group operations against a group with one live member, then the empty group.
    kafka-python 2.0.2 has no alter or delete of committed offsets."""
    create_topic(bootstrap, topic, 2)
    produce_spread(bootstrap, topic, 2, 0, 10, int(time.time() * 1000))
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap], client_id="compat-kafka-python-admin", request_timeout_ms=30000)
    tally, errors, steps = Tally(), [], {}
    member = Member(bootstrap, topic, group_id, tally, errors)
    steps["member_balanced"] = wait_balanced([member], 2, 60)
    steps["member_consumed"] = wait_count(tally, 10, 60)
    member_id = member.consumer._coordinator._generation.member_id  # kafka-python has no public accessor
    steps["listed_active"] = [t for g, t in admin.list_consumer_groups() if g == group_id]
    steps["described_active"] = describe(admin, group_id, member_id)
    steps["delete_group_active"] = [e.__name__ for g, e in admin.delete_consumer_groups([group_id])]
    member.close()
    steps["described_empty"] = describe(admin, group_id, member_id)
    steps["offsets"] = offsets(admin, group_id)
    steps["delete_group"] = [e.__name__ for g, e in admin.delete_consumer_groups([group_id])]
    steps["listed_deleted"] = [t for g, t in admin.list_consumer_groups() if g == group_id]
    steps["described_deleted"] = describe(admin, group_id, member_id)
    steps["offsets_deleted"] = offsets(admin, group_id)
    admin.close()
    steps["errors"] = errors[:5]
    return steps


def acls(bootstrap, topic):
    """describe_acls / create_acls / delete_acls: the error each reports (the broker has no authorizer)."""
    from kafka.admin import ACL, ACLFilter, ACLOperation, ACLPermissionType, ResourcePattern, ResourcePatternFilter, ResourceType
    from kafka.admin.acl_resource import ACLResourcePatternType
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap], client_id="compat-kafka-python-admin", request_timeout_ms=30000)
    any_filter = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY, permission_type=ACLPermissionType.ANY,
                           resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
    acl = ACL(principal="User:alice", host="*", operation=ACLOperation.READ, permission_type=ACLPermissionType.ALLOW,
              resource_pattern=ResourcePattern(ResourceType.TOPIC, topic, ACLResourcePatternType.LITERAL))
    steps = {}
    try:
        admin.describe_acls(any_filter)
        steps["describe_acls"] = "NoError"
    except KafkaError as e:
        steps["describe_acls"] = type(e).__name__
    created = admin.create_acls([acl])
    steps["create_acls"] = [err.__name__ for _, err in created["failed"]]
    steps["delete_acls"] = [err.__name__ for _, _, err in admin.delete_acls([any_filter])]
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
    elif cmd == "group":
        out = group(args[0], args[1], args[2], args[3], int(args[4]), int(args[5]))
    elif cmd == "produce-spread":
        create_topic(args[0], args[1], int(args[2]))
        produce_spread(args[0], args[1], int(args[2]), 0, int(args[3]), int(args[4]))
        out = {"count": int(args[3])}
    elif cmd == "consume-group":
        out = consume_group(args[0], args[1], args[2], int(args[3]))
    elif cmd == "group-admin":
        out = group_admin(args[0], args[1], args[2])
    elif cmd == "acls":
        out = acls(args[0], args[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
