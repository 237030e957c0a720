// kafkajs 2.2.4 driver for the compat tests. Prints one JSON object on its last stdout line.
//   client.js produce <bootstrap> <topic> <codec> <count> <base-ts>
//   client.js consume <bootstrap> <topic> <count>        (kafkajs consumers always join a group)
//   client.js seek-ts <bootstrap> <topic> <timestamp>    (admin.fetchTopicOffsetsByTimestamp)
//   client.js topics  <bootstrap> <topic>                (create, describe, alter config, add partitions, delete)
//   client.js batch-codecs <bootstrap> <topic>           (raw Fetch v4 of partition 0: batches per codec in the stored log)
// kafkajs ships none and gzip; snappy, lz4 and zstd come from the plugins ./codecs.js registers.
// Records and checksum as in ../kafka-python/client.py.
const path = require('path');
const crypto = require('crypto');
const net = require('net');
const { registerCodecs } = require('./codecs');
const { Kafka, CompressionTypes, ConfigResourceTypes, logLevel } = require(path.join(__dirname, '../../node/node_modules/kafkajs'));

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
  else throw new Error(`unknown command ${cmd}`);
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack ? e.stack : e); process.exit(1); });
