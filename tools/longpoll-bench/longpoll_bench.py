#!/usr/bin/env python3
"""Long-poll benchmark (issue 16): CPU a broker spends per append while N idle fetchers long-poll other partitions.

Starts the broker executable (a KafkaCompatBroker.Server.dll) on a fresh data dir, creates a topic of N+1 partitions,
opens N connections that each long-poll Fetch v4 (max_wait 30 s, min_bytes 1) on partitions 1..N, then produces M
one-record batches one by one (Produce v3, acks=1) to partition 0 and reads the broker's CPU time (utime+stime from
/proc/<pid>/stat) before and after. Prints CPU microseconds per append. Raw protocol, no client library.

  python3 tools/longpoll-bench/longpoll_bench.py --server src/KafkaCompatBroker.Server/bin/Release/net10.0/KafkaCompatBroker.Server.dll \
      --port 19101 --fetchers 1000 --appends 3000
"""
import argparse, os, select, shutil, socket, struct, subprocess, sys, tempfile, time

def crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table

TABLE = crc32c_table()

def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

def varint(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)

def batch(value):
    ts = int(time.time() * 1000)
    body = bytes([0]) + varint(0) + varint(0) + varint(-1) + varint(len(value)) + value + varint(0)
    record = varint(len(body)) + body
    after_crc = struct.pack('>hiqqqhii', 0, 0, ts, ts, -1, -1, -1, 1) + record
    header_rest = struct.pack('>ib', -1, 2) + struct.pack('>I', crc32c(after_crc)) + after_crc
    return struct.pack('>qi', 0, len(header_rest)) + header_rest

def string(s):
    b = s.encode()
    return struct.pack('>h', len(b)) + b

def frame(api_key, version, correlation, body):
    msg = struct.pack('>hhi', api_key, version, correlation) + string('longpoll-bench') + body
    return struct.pack('>i', len(msg)) + msg

def read_frame(sock):
    head = recv_exact(sock, 4)
    return recv_exact(sock, struct.unpack('>i', head)[0])

def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError('broker closed the connection')
        buf += chunk
    return bytes(buf)

def cpu_ticks(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)

def connect(port):
    deadline = time.time() + 60
    while True:
        try:
            s = socket.create_connection(('127.0.0.1', port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--server', required=True)
    p.add_argument('--port', type=int, default=19101)
    p.add_argument('--fetchers', type=int, default=1000)
    p.add_argument('--appends', type=int, default=3000)
    a = p.parse_args()
    topic = 'longpoll'
    data = tempfile.mkdtemp(prefix='kcb-longpoll-')
    props = os.path.join(data, 'server.properties')
    with open(props, 'w') as f:
        f.write(f'node.id=1\nlisteners=PLAINTEXT://127.0.0.1:{a.port}\nlog.dirs={data}/logs\n'
                f'num.partitions={a.fetchers + 1}\nauto.create.topics.enable=true\n')
    broker = subprocess.Popen(['dotnet', a.server, props], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ctl = connect(a.port)
        # Metadata v0 auto-creates the topic with num.partitions partitions.
        for i in range(20):
            ctl.sendall(frame(3, 0, i, struct.pack('>i', 1) + string(topic)))
            read_frame(ctl)
            time.sleep(0.2)
        fetch_socks = []
        for i in range(1, a.fetchers + 1):
            s = connect(a.port)
            body = struct.pack('>iiiib', -1, 30000, 1, 1 << 20, 0) + struct.pack('>i', 1) + string(topic) \
                + struct.pack('>i', 1) + struct.pack('>iqi', i, 0, 1 << 20)
            s.sendall(frame(1, 4, i, body))
            fetch_socks.append(s)
        time.sleep(3)  # let every fetch read its empty partition and park
        record = batch(b'x' * 100)
        produce = frame(0, 3, 0, struct.pack('>hhii', -1, 1, 30000, 1) + string(topic)
                        + struct.pack('>i', 1) + struct.pack('>i', 0) + struct.pack('>i', len(record)) + record)
        for _ in range(100):  # warm-up
            ctl.sendall(produce); read_frame(ctl)
        hz = os.sysconf('SC_CLK_TCK')
        before, wall = cpu_ticks(broker.pid), time.time()
        for _ in range(a.appends):
            ctl.sendall(produce); read_frame(ctl)
        after, wall = cpu_ticks(broker.pid), time.time() - wall
        cpu_us = (after - before) * 1e6 / hz
        # A fetcher that answered (e.g. an error) was not parked: it would not be woken, and the figure would be wrong.
        readable, _, _ = select.select(fetch_socks, [], [], 0)
        print(f'fetchers={a.fetchers} appends={a.appends} broker_cpu_ms={cpu_us / 1000:.0f} '
              f'cpu_us_per_append={cpu_us / a.appends:.1f} wall_us_per_append={wall * 1e6 / a.appends:.1f} '
              f'still_parked={a.fetchers - len(readable)}')
        for s in fetch_socks:
            s.close()
        ctl.close()
    finally:
        broker.terminate()
        try:
            broker.wait(20)
        except subprocess.TimeoutExpired:
            broker.kill()
        shutil.rmtree(data, ignore_errors=True)

if __name__ == '__main__':
    sys.exit(main())
