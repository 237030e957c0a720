// Registers the compression codecs kafkajs 2.2.4 does not ship (it has none and gzip built in), all pinned
// in ../../node/package-lock.json:
//   snappy  kafkajs-snappy 1.1.0 (pure JS, snappyjs; raw snappy out, raw or xerial-framed snappy in)
//   lz4     kafkajs-lz4 1.2.1 (native lz4 0.6.5, built by node-gyp during npm ci; LZ4 frames)
//   zstd    a plugin of our own: @bokuweb/zstd-wasm 0.0.27 compresses (libzstd as wasm, level 3),
//           fzstd 0.1.1 (pure JS) decompresses; @kafkajs/zstd needs cppzst, which does not compile on node 20.
// Each codec follows kafkajs's interface: () => ({ compress(encoder) → Promise<Buffer>, decompress(buffer) → Promise<Buffer> }).
const path = require('path');

const nodeModules = path.join(__dirname, '../../node/node_modules');
const load = (name) => require(path.join(nodeModules, name));

async function registerCodecs() {
  const { CompressionTypes, CompressionCodecs } = load('kafkajs');
  CompressionCodecs[CompressionTypes.Snappy] = load('kafkajs-snappy');

  const LZ4Codec = load('kafkajs-lz4');
  CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec;

  const zstdWasm = load('@bokuweb/zstd-wasm');
  const fzstd = load('fzstd');
  await zstdWasm.init();
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    async compress(encoder) {
      const out = zstdWasm.compress(encoder.buffer, 3);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    },
    async decompress(buffer) {
      // fzstd handles frames without a content size (what streaming compressors such as zstd-jni write).
      const out = fzstd.decompress(buffer);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    },
  });
}

module.exports = { registerCodecs };
