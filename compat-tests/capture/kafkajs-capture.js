// Produces the fixture record set (see README.md) to fixtures/0 with kafkajs 2.2.4.
// Usage: node kafkajs-capture.js <bootstrap> <none|gzip>
// kafkajs only has gzip built in; snappy/lz4/zstd need third-party codec packages.
// kafkajs cannot send a null header value, so h2 has an empty value.
'use strict'
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const path = require('path')
const { Kafka, CompressionTypes, logLevel } = require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'))

const [bootstrap, codecName] = process.argv.slice(2)
const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP }
if (!bootstrap || !(codecName in codecs)) {
  console.error('usage: node kafkajs-capture.js <bootstrap> <none|gzip>')
  process.exit(2)
}

async function main() {
  const kafka = new Kafka({
    clientId: 'fixture-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    retry: { retries: 2 },
  })
  const producer = kafka.producer({ allowAutoTopicCreation: true, idempotent: false })
  await producer.connect()
  const messages = []
  for (let i = 0; i < 10; i++) {
    messages.push({
      partition: 0,
      key: i === 3 ? null : `key-${i}`,
      value: `value-${i} `.repeat(25),
      headers: i % 2 === 0 ? { h1: `v${i}`, h2: '' } : undefined,
      timestamp: String(1700000000000 + i),
    })
  }
  const result = await producer.send({ topic: 'fixtures', acks: 1, compression: codecs[codecName], messages })
  console.log(JSON.stringify(result))
  await producer.disconnect()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
