// kafkajs 2.2.4 idempotent and transactional producer commands for the compat tests (TransactionCompatTests.cs).
//   client.js idempotent-produce <bootstrap> <topic> <partitions> <count>     (idempotent: true, acks -1)
//   client.js txn-produce <bootstrap> <topic> <partitions> <txn-id> <commit:0-99,abort:100-199,…>
//   client.js read <bootstrap> <topic> <read_committed|read_uncommitted> <expected>   (group consumer; stops 1 s after <expected> records)
//   client.js txn-offsets <bootstrap> <in> <out> <group> <txn-id>            (transaction.sendOffsets, commit / abort)
// Records are numbered like ../confluent-dotnet/Transactions.cs: key "key-<n>", value "n-<n>", partition n % partitions.
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const numbered = (n, partitions, prefix = 'n') => ({ key: `key-${n}`, value: `${prefix}-${n}`, partition: n % partitions });
const numberOf = (value) => {
  const m = /-(\d+)$/.exec(value ?? '');
  return m ? Number(m[1]) : -1;
};

async function createTopic(kafka, topic, partitions) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
}

function range(first, last, partitions, prefix) {
  const out = [];
  for (let n = first; n <= last; n++) out.push(numbered(n, partitions, prefix));
  return out;
}

// idempotent: true needs acks -1; one request in flight, as kafkajs recommends for idempotence.
async function idempotentProduce(kafka, topic, partitions, count) {
  await createTopic(kafka, topic, partitions);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let start = 0; start < count; start += 500) {
    await producer.send({ topic, acks: -1, messages: range(start, Math.min(count, start + 500) - 1, partitions) });
  }
  await producer.disconnect();
  return { count };
}

async function txnProduce(kafka, topic, partitions, transactionalId, spec) {
  await createTopic(kafka, topic, partitions);
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const ended = [];
  for (const item of spec.split(',')) {
    const [action, span] = item.split(':');
    const [first, last] = span.split('-').map(Number);
    const txn = await producer.transaction();
    await txn.send({ topic, acks: -1, messages: range(first, last, partitions) });
    if (action === 'commit') await txn.commit(); else await txn.abort();
    ended.push(item);
  }
  await producer.disconnect();
  return { ended };
}

// kafkajs consumers always join a group; readUncommitted false (its default) is read_committed.
async function read(kafka, topic, isolation, expected) {
  const consumer = kafka.consumer({ groupId: `compat-kafkajs-read-${Date.now()}`, readUncommitted: isolation === 'read_uncommitted' });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const numbers = {}, offsets = {};
  let seen = 0;
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      const n = numberOf(message.value?.toString());
      (numbers[partition] ??= []).push(n);
      (offsets[partition] ??= []).push(Number(message.offset));
      seen++;
    },
  });
  const deadline = Date.now() + 60000;
  while (seen < expected && Date.now() < deadline) await sleep(100);
  await sleep(1000); // records beyond the expected ones (aborted, duplicated) would show up now
  await consumer.disconnect();
  return { numbers, offsets, count: seen };
}

// Transform-and-produce with transaction.sendOffsets: 0..9 to the output with offset 10 committed, then 10..19
// with offset 20 aborted; the group's committed offset is read with admin.fetchOffsets after each.
async function txnOffsets(kafka, input, output, groupId, transactionalId) {
  await createTopic(kafka, input, 1);
  await createTopic(kafka, output, 1);
  const plain = kafka.producer();
  await plain.connect();
  await plain.send({ topic: input, acks: -1, messages: range(0, 29, 1) });
  await plain.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  const committed = async () => {
    const [t] = await admin.fetchOffsets({ groupId, topics: [input] });
    return Number(t.partitions.find((p) => p.partition === 0).offset);
  };
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const steps = {};
  const step = async (first, last, commit) => {
    const txn = await producer.transaction();
    await txn.send({ topic: output, acks: -1, messages: range(first, last, 1, 'out') });
    await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: String(last + 1) }] }] });
    if (commit) await txn.commit(); else await txn.abort();
    return committed();
  };
  steps.committed_after_commit = await step(0, 9, true);
  steps.committed_after_abort = await step(10, 19, false);
  steps.committed_after_retry = await step(10, 19, true);
  await producer.disconnect();
  await admin.disconnect();
  return steps;
}

const commands = ['idempotent-produce', 'txn-produce', 'read', 'txn-offsets'];

async function run(cmd, kafka, topic, rest) {
  if (cmd === 'idempotent-produce') return idempotentProduce(kafka, topic, Number(rest[0]), Number(rest[1]));
  if (cmd === 'txn-produce') return txnProduce(kafka, topic, Number(rest[0]), rest[1], rest[2]);
  if (cmd === 'read') return read(kafka, topic, rest[0], Number(rest[1]));
  if (cmd === 'txn-offsets') return txnOffsets(kafka, topic, rest[0], rest[1], rest[2]);
  throw new Error(`unknown command ${cmd}`);
}

module.exports = { commands, run };
