// kafkajs 2.2.4 driver for the compat tests. Prints one JSON object on its last stdout line.
//   client.js produce <bootstrap> <topic> <codec> <count> <base-ts>
//   client.js consume <bootstrap> <topic> <count>        (kafkajs consumers always join a group: needs issue 5)
//   client.js seek-ts <bootstrap> <topic> <timestamp>    (admin.fetchTopicOffsetsByTimestamp)
//   client.js topics  <bootstrap> <topic>                (create, describe, alter config, add partitions, delete)
// kafkajs ships gzip only; the other codecs need plugins the compat suite does not install.
// Records and checksum as in ../kafka-python/client.py.
const path = require('path');
const crypto = require('crypto');
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
  const compression = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP }[codec];
  if (compression === undefined) throw new Error(`kafkajs has no built-in ${codec} codec`);
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

async function main() {
  const [cmd, bootstrap, topic, ...rest] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: 'compat-kafkajs', brokers: [bootstrap], logLevel: logLevel.ERROR, retry: { retries: 3 } });
  let out;
  if (cmd === 'produce') out = await produce(kafka, topic, rest[0], Number(rest[1]), Number(rest[2]));
  else if (cmd === 'consume') out = await consume(kafka, topic, Number(rest[0]));
  else if (cmd === 'seek-ts') out = await seekTs(kafka, topic, Number(rest[0]));
  else if (cmd === 'topics') out = await topics(kafka, topic);
  else throw new Error(`unknown command ${cmd}`);
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack ? e.stack : e); process.exit(1); });
