// kafkajs 2.2.4 driver for the compat tests. Prints one JSON object on its last stdout line.
//   client.js produce <bootstrap> <topic> <codec> <count> <base-ts>
//   client.js consume <bootstrap> <topic> <count>        (kafkajs consumers always join a group)
//   client.js seek-ts <bootstrap> <topic> <timestamp>    (admin.fetchTopicOffsetsByTimestamp)
//   client.js topics  <bootstrap> <topic>                (create, describe, alter config, add partitions, delete)
//   client.js batch-codecs <bootstrap> <topic>           (raw Fetch v4 of partition 0: batches per codec in the stored log)
//   client.js group <bootstrap> <topic> <group> roundrobin <count> <base-ts>   (three members share six partitions; one leaves)
//   client.js produce-spread <bootstrap> <topic> <partitions> <count> <base-ts>   (record i to partition i % partitions)
//   client.js consume-group <bootstrap> <topic> <group> <max>      (one member reads up to max records, commits, stops)
//   client.js group-admin <bootstrap> <topic> <group>              (list, describe, offsets, set/reset offsets, delete group)
//   client.js cluster-admin <bootstrap> <topic>                    (ACLs; list/alter partition reassignments)
//   client.js idempotent-produce | txn-produce | read | txn-offsets …   (./transactions.js)
// kafkajs ships none and gzip; snappy, lz4 and zstd come from the plugins ./codecs.js registers.
// Records and checksum as in ../kafka-python/client.py.
const path = require('path');
const crypto = require('crypto');
const net = require('net');
const { registerCodecs } = require('./codecs');
const transactions = require('./transactions');
const { Kafka, CompressionTypes, ConfigResourceTypes, AssignerProtocol, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = require(path.join(__dirname, '../../node/node_modules/kafkajs'));

const PAD = 'v'.repeat(100);
const MASK = (1n << 64n) - 1n;
const digest = (key, value, ts, headers) => {
  const h = headers.map(([k, v]) => `${k}=${v ?? ''}`).join(',');
  const text = `${key ?? ''}\t${value ?? ''}\t${ts}\t${h}`;
  return crypto.createHash('md5').update(text).digest().readBigUInt64BE(0);
};
const hex = (n) => n.toString(16).padStart(16, '0');

async function produce(kafka, topic, codec, count, baseTs) {
  const compression = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }[codec];
  if (compression === undefined) throw new Error(`unknown codec ${codec}`);
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  let checksum = 0n;
  const batchSize = 5000;
  for (let start = 0; start < count; start += batchSize) {
    const messages = [];
    for (let i = start; i < Math.min(count, start + batchSize); i++) {
      const key = `key-${i}`, value = `value-${i}-${PAD}`, ts = baseTs + i;
      checksum = (checksum + digest(key, value, ts, [['h1', `hv-${i}`], ['codec', codec]])) & MASK;
      messages.push({ key, value, partition: 0, timestamp: String(ts), headers: { h1: `hv-${i}`, codec } });
    }
    await producer.send({ topic, messages, acks: 1, compression });
  }
  await producer.disconnect();
  return { count, checksum: hex(checksum) };
}

async function consume(kafka, topic, count) {
  const consumer = kafka.consumer({ groupId: `compat-kafkajs-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let checksum = 0n, seen = 0;
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 120000);
    consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]);
        checksum = (checksum + digest(message.key?.toString(), message.value?.toString(), message.timestamp, headers)) & MASK;
        if (++seen >= count) { clearTimeout(timer); resolve(); }
      },
    });
  });
  await consumer.disconnect();
  return { count: seen, checksum: hex(checksum) };
}

async function seekTs(kafka, topic, ts) {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, ts);
  await admin.disconnect();
  const p0 = offsets.find((o) => o.partition === 0);
  return { offset: p0 ? Number(p0.offset) : null };
}

async function topics(kafka, topic) {
  const admin = kafka.admin();
  await admin.connect();
  const steps = {};
  steps.created = await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }], waitForLeaders: true });
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  steps.partitions = meta.topics[0].partitions.length;
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '7200000' }] }] });
  const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] });
  steps['retention.ms'] = configs.resources[0].configEntries.find((e) => e.configName === 'retention.ms')?.configValue ?? null;
  await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
  steps.partitions_after = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length;
  await admin.deleteTopics({ topics: [topic] });
  steps.deleted = !(await admin.listTopics()).includes(topic);
  await admin.disconnect();
  return steps;
}

// Reads partition 0 with raw Fetch v4 requests (kafkajs decodes batches without exposing their attributes)
// and counts the stored record batches by the codec in their attributes, so a plugin that silently sent
// uncompressed batches would show. Talks to the bootstrap broker, which must lead partition 0.
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

function rawRequest(host, port, apiKey, apiVersion, body) {
  const clientId = Buffer.from('compat-kafkajs-raw');
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(1, 4);
  header.writeInt16BE(clientId.length, 8);
  const payload = Buffer.concat([header, clientId, body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port }, () => socket.write(Buffer.concat([size, payload])));
    let chunks = [], length = 0;
    socket.setTimeout(30000, () => socket.destroy(new Error('raw fetch timed out')));
    socket.on('data', (chunk) => {
      chunks.push(chunk); length += chunk.length;
      const all = Buffer.concat(chunks);
      if (all.length >= 4 && all.length >= 4 + all.readInt32BE(0)) {
        socket.end();
        resolve(all.subarray(4, 4 + all.readInt32BE(0)));
      }
    });
    socket.on('error', reject);
  });
}

function str16(s) {
  const b = Buffer.from(s);
  const len = Buffer.alloc(2);
  len.writeInt16BE(b.length, 0);
  return Buffer.concat([len, b]);
}

async function batchCodecs(bootstrap, topic) {
  const [host, port] = [bootstrap.slice(0, bootstrap.lastIndexOf(':')), Number(bootstrap.slice(bootstrap.lastIndexOf(':') + 1))];
  const batches = {};
  let offset = 0n, records = 0;
  for (;;) {
    const head = Buffer.alloc(21);
    head.writeInt32BE(-1, 0); // replica id
    head.writeInt32BE(0, 4); // max wait
    head.writeInt32BE(1, 8); // min bytes
    head.writeInt32BE(16 << 20, 12); // max bytes
    head.writeInt8(0, 16); // isolation level
    head.writeInt32BE(1, 17); // one topic
    const part = Buffer.alloc(20);
    part.writeInt32BE(1, 0); // one partition
    part.writeInt32BE(0, 4);
    part.writeBigInt64BE(offset, 8);
    part.writeInt32BE(8 << 20, 16);
    const r = await rawRequest(host, port, 1, 4, Buffer.concat([head, str16(topic), part]));
    let p = 8; // correlation id, throttle time
    if (r.readInt32BE(p) !== 1) throw new Error('fetch: expected one topic');
    p += 4;
    p += 2 + r.readInt16BE(p); // topic name
    if (r.readInt32BE(p) !== 1) throw new Error('fetch: expected one partition');
    p += 4 + 4; // count, partition index
    const error = r.readInt16BE(p); p += 2;
    if (error !== 0) throw new Error(`fetch: error code ${error}`);
    const highWatermark = r.readBigInt64BE(p); p += 16; // high watermark, last stable offset
    const aborted = r.readInt32BE(p); p += 4 + Math.max(aborted, 0) * 16;
    const size = r.readInt32BE(p); p += 4;
    const end = p + Math.max(size, 0);
    let progressed = false;
    while (p + 61 <= end) {
      const baseOffset = r.readBigInt64BE(p);
      const batchLength = r.readInt32BE(p + 8);
      if (p + 12 + batchLength > end) break; // partial batch at the end of the response
      const magic = r.readInt8(p + 16);
      if (magic !== 2) throw new Error(`fetch: batch at ${baseOffset} has magic ${magic}`);
      const attributes = r.readInt16BE(p + 21);
      const lastOffsetDelta = r.readInt32BE(p + 23);
      const count = r.readInt32BE(p + 57);
      const name = CODEC_NAMES[attributes & 7] ?? `codec-${attributes & 7}`;
      batches[name] = (batches[name] ?? 0) + 1;
      records += count;
      offset = baseOffset + BigInt(lastOffsetDelta) + 1n;
      progressed = true;
      p += 12 + batchLength;
    }
    if (offset >= highWatermark) break;
    if (!progressed) throw new Error(`fetch: no complete batch at offset ${offset} (high watermark ${highWatermark})`);
  }
  return { batches, records };
}

const GROUP_PARTITIONS = 6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function createTopic(kafka, topic, partitions) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
}

// Records first..first+count-1 (codec none), record i to partition i % partitions.
async function produceSpread(kafka, topic, partitions, first, count, baseTs) {
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = first; i < first + count; i++) {
    messages.push({ key: `key-${i}`, value: `value-${i}-${PAD}`, partition: i % partitions, timestamp: String(baseTs + i), headers: { h1: `hv-${i}`, codec: 'none' } });
  }
  await producer.send({ topic, messages, acks: -1 });
  await producer.disconnect();
}

// What all members of a run consumed: (partition, offset) pairs seen, count, checksum.
function newTally() {
  const tally = { seen: new Set(), count: 0, duplicates: 0, checksum: 0n };
  tally.add = (partition, message) => {
    const id = `${partition}:${message.offset}`;
    if (tally.seen.has(id)) tally.duplicates++;
    tally.seen.add(id);
    const headers = Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]);
    tally.checksum = (tally.checksum + digest(message.key?.toString(), message.value?.toString(), message.timestamp, headers)) & MASK;
    tally.count++;
  };
  return tally;
}

// A group member; each batch is committed (explicitly, auto-commit off) before the next is processed.
async function startMember(kafka, topic, groupId, tally, errors) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, rebalanceTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 500 });
  const member = { consumer, assigned: [], memberId: null };
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    member.assigned = [...(payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
    member.memberId = payload.memberId;
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => errors.push(String(payload.error)));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) tally.add(batch.partition, message);
      if (batch.messages.length > 0) {
        await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
      }
    },
  });
  return member;
}

async function waitFor(condition, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(50);
  return condition();
}

const balanced = (members, partitions) => () => {
  const all = members.flatMap((m) => m.assigned).sort((a, b) => a - b);
  return members.every((m) => m.assigned.length > 0) && all.length === partitions && all.every((p, i) => p === i);
};

// Three members share a six-partition topic; half the records are consumed, member 3 leaves (disconnect),
// the other two take over its partitions, then the rest is consumed.
async function group(kafka, topic, groupId, count, baseTs) {
  await createTopic(kafka, topic, GROUP_PARTITIONS);
  const tally = newTally(), errors = [], out = {};
  const members = await Promise.all([0, 1, 2].map(() => startMember(kafka, topic, groupId, tally, errors)));
  try {
    out.balanced = await waitFor(balanced(members, GROUP_PARTITIONS), 60000);
    out.initial = members.map((m) => m.assigned);
    await produceSpread(kafka, topic, GROUP_PARTITIONS, 0, Math.floor(count / 2), baseTs);
    out.first_half_consumed = await waitFor(() => tally.count >= Math.floor(count / 2), 60000);
    const gone = members.pop();
    const started = Date.now();
    await gone.consumer.disconnect();
    out.moved = await waitFor(balanced(members, GROUP_PARTITIONS), 60000);
    out.moved_ms = Date.now() - started;
    out.after = members.map((m) => m.assigned);
    await produceSpread(kafka, topic, GROUP_PARTITIONS, Math.floor(count / 2), count - Math.floor(count / 2), baseTs);
    await waitFor(() => tally.count >= count, 60000);
    await sleep(1000); // a duplicate delivered late would still be counted
  } finally {
    for (const m of members) await m.consumer.disconnect();
  }
  const admin = kafka.admin();
  await admin.connect();
  const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  out.committed = fetched.partitions.reduce((sum, p) => sum + Math.max(Number(p.offset), 0), 0);
  return { ...out, count: tally.count, duplicates: tally.duplicates, checksum: hex(tally.checksum), errors: errors.slice(0, 5) };
}

// One member reads up to max records, committing each batch (cut at max) before the next, then stops.
async function consumeGroup(kafka, topic, groupId, max) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 500 });
  const tally = newTally(), first = {}, committed = {};
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      let last = null;
      for (const message of batch.messages) {
        if (tally.count >= max) break;
        tally.add(batch.partition, message);
        if (!(batch.partition in first)) first[batch.partition] = Number(message.offset);
        last = Number(message.offset);
      }
      if (last !== null) {
        await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(last + 1) }]);
        committed[batch.partition] = last + 1;
      }
      if (tally.count >= max) consumer.pause([{ topic }]);
    },
  });
  await waitFor(() => tally.count >= max, 60000);
  await consumer.disconnect();
  return { count: tally.count, checksum: hex(tally.checksum), duplicates: tally.duplicates, first, committed };
}

async function describe(admin, groupId, memberId) {
  const { groups: [g] } = await admin.describeGroups([groupId]);
  return {
    error: g.errorCode, state: g.state, protocol_type: g.protocolType, protocol: g.protocol,
    members: g.members.map((m) => {
      const assignment = m.memberAssignment?.length ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment).assignment : {};
      return { is_member: m.memberId === memberId, client_id: m.clientId, host: m.clientHost,
        assignment: Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)).sort() };
    }),
  };
}

async function offsets(admin, groupId, topic, resolveOffsets = false) {
  const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic], resolveOffsets });
  return Object.fromEntries(fetched.partitions.map((p) => [`${topic}:${p.partition}`, Number(p.offset)]));
}

async function errorOf(promise) {
  try { await promise; return 'NONE'; } catch (e) { return e.groups?.[0]?.error?.type ?? e.type ?? e.message; }
}

// The admin client's group operations against a group with one live member, then the empty group.
// kafkajs has no OffsetDelete call; setOffsets/resetOffsets join the (empty) group to commit.
async function groupAdmin(kafka, topic, groupId) {
  await createTopic(kafka, topic, 2);
  await produceSpread(kafka, topic, 2, 0, 10, Date.now());
  const admin = kafka.admin();
  await admin.connect();
  const tally = newTally(), errors = [], steps = {};
  const member = await startMember(kafka, topic, groupId, tally, errors);
  steps.member_balanced = await waitFor(balanced([member], 2), 60000);
  steps.member_consumed = await waitFor(() => tally.count >= 10, 60000);
  const listed = async () => (await admin.listGroups()).groups.filter((g) => g.groupId === groupId).map((g) => g.protocolType);
  steps.listed_active = await listed();
  steps.described_active = await describe(admin, groupId, member.memberId);
  steps.set_offsets_active = await errorOf(admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '2' }] }));
  steps.delete_group_active = await errorOf(admin.deleteGroups([groupId]));
  await member.consumer.disconnect();
  steps.described_empty = await describe(admin, groupId, member.memberId);
  steps.offsets = await offsets(admin, groupId, topic);
  await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '2' }] });
  steps.offsets_altered = await offsets(admin, groupId, topic);
  await admin.resetOffsets({ groupId, topic, earliest: true });
  steps.offsets_reset = await offsets(admin, groupId, topic); // resetOffsets commits -2 (earliest) as the offset
  steps.offsets_reset_resolved = await offsets(admin, groupId, topic, true); // resolves -2 to the log start and commits it
  steps.delete_group = await errorOf(admin.deleteGroups([groupId]));
  steps.listed_deleted = await listed();
  steps.described_deleted = await describe(admin, groupId, member.memberId);
  steps.offsets_deleted = await offsets(admin, groupId, topic);
  steps.delete_group_again = await errorOf(admin.deleteGroups([groupId]));
  await admin.disconnect();
  steps.errors = errors.slice(0, 5);
  return steps;
}

// The error type(s) a call fails with, or 'NoError' (with what it returned).
async function outcome(call) {
  try {
    return { error: 'NoError', value: await call() };
  } catch (e) {
    return { error: e.errors ? e.errors.map((x) => `${x.partition}:${x.type}`) : e.type || e.message };
  }
}

// ACLs (the broker has no authorizer: SECURITY_DISABLED, as Kafka without one) and partition reassignments on a
// single node: none in progress, a target of this broker changes nothing, another broker id is refused.
async function clusterAdmin(kafka, topic) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  const { brokers } = await admin.describeCluster();
  const self = brokers[0].nodeId;
  const anyAcl = {
    resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY,
  };
  const acl = {
    resourceType: AclResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: 'User:alice', host: '*', operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW,
  };
  const out = {
    describe_acls: (await outcome(() => admin.describeAcls(anyAcl))).error,
    create_acls: (await outcome(() => admin.createAcls({ acl: [acl] }))).error,
    delete_acls: (await outcome(() => admin.deleteAcls({ filters: [anyAcl] }))).error,
  };
  const listed = await outcome(() => admin.listPartitionReassignments({ topics: [{ topic, partitions: [0, 1] }] }));
  out.list_reassignments = { error: listed.error, topics: listed.value && listed.value.topics.length };
  const listedAll = await outcome(() => admin.listPartitionReassignments({}));
  out.list_all_reassignments = { error: listedAll.error, topics: listedAll.value && listedAll.value.topics.length };
  const alter = (partition, replicas) => outcome(() => admin.alterPartitionReassignments({ topics: [{ topic, partitionAssignment: [{ partition, replicas }] }] }));
  out.alter_same = (await alter(0, [self])).error;
  out.alter_unknown_broker = (await alter(1, [self, self + 1000])).error;
  out.alter_unknown_partition = (await alter(9, [self])).error;
  await admin.disconnect();
  return out;
}

async function main() {
  const [cmd, bootstrap, topic, ...rest] = process.argv.slice(2);
  await registerCodecs();
  const kafka = new Kafka({ clientId: 'compat-kafkajs', brokers: [bootstrap], logLevel: logLevel.ERROR, retry: { retries: 3 } });
  let out;
  if (cmd === 'produce') out = await produce(kafka, topic, rest[0], Number(rest[1]), Number(rest[2]));
  else if (cmd === 'consume') out = await consume(kafka, topic, Number(rest[0]));
  else if (cmd === 'seek-ts') out = await seekTs(kafka, topic, Number(rest[0]));
  else if (cmd === 'topics') out = await topics(kafka, topic);
  else if (cmd === 'batch-codecs') out = await batchCodecs(bootstrap, topic);
  else if (cmd === 'group') {
    if (rest[1] !== 'roundrobin') throw new Error(`kafkajs 2.2.4 ships only the roundrobin assigner, not ${rest[1]}`);
    out = await group(kafka, topic, rest[0], Number(rest[2]), Number(rest[3]));
  }
  else if (cmd === 'produce-spread') {
    await createTopic(kafka, topic, Number(rest[0]));
    await produceSpread(kafka, topic, Number(rest[0]), 0, Number(rest[1]), Number(rest[2]));
    out = { count: Number(rest[1]) };
  } else if (cmd === 'consume-group') out = await consumeGroup(kafka, topic, rest[0], Number(rest[1]));
  else if (cmd === 'group-admin') out = await groupAdmin(kafka, topic, rest[0]);
  else if (cmd === 'cluster-admin') out = await clusterAdmin(kafka, topic);
  else if (transactions.commands.includes(cmd)) out = await transactions.run(cmd, kafka, topic, rest);
  else throw new Error(`unknown command ${cmd}`);
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack ? e.stack : e); process.exit(1); });
