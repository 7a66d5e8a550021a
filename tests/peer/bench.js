#!/usr/bin/env node
// The peer side of `bench peer`: the same visit workload through CouchDB replication.
//
// Starts pouchdb-server (its own CLI, its defaults: LevelDB under a temp dir; `--in-memory`
// with --server-storage memory) on 127.0.0.1 on a free port, in a child process with count.js
// preloaded to count the bytes on the server's sockets and the requests it answers. Then K
// PouchDB clients in this process, each with its own local database (memory adapter), put their
// V visit documents offline (not timed) and replicate once to the server's `visits` database,
// all at once (`local.replicate.to(url)`, one-shot, PouchDB's defaults but for `batch_size`).
// The replication phase is timed; prints one JSON object.
//
//   node bench.js --workload workload.json --dir /tmp/x [--batch-size 100]
//                 [--server-storage leveldb|memory]
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');
const { fork } = require('child_process');

const PouchDB = require('pouchdb').plugin(require('pouchdb-adapter-memory'));

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function ask(child, cmd) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m && m.reply === cmd) {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
    child.send({ cmd });
  });
}

async function waitUp(url, child, stderr) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error('pouchdb-server exited: ' + stderr.join(''));
    }
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch (_) {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('pouchdb-server did not start within 60 s: ' + stderr.join(''));
}

function quantile(sorted, q) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main() {
  const workloadPath = arg('workload');
  const dir = arg('dir');
  if (!workloadPath || !dir) {
    throw new Error('usage: node bench.js --workload FILE --dir DIR [--batch-size N]');
  }
  const batchSize = Number(arg('batch-size', '100'));
  const storage = arg('server-storage', 'leveldb');
  const workload = JSON.parse(fs.readFileSync(workloadPath, 'utf8'));
  const clients = workload.clients;

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serverArgs = ['--port', String(port), '--host', '127.0.0.1', '--dir',
    path.join(dir, 'db'), '--config', path.join(dir, 'config.json'), '--no-stdout-logs'];
  if (storage === 'memory') serverArgs.push('--in-memory');
  const bin = require.resolve('pouchdb-server/bin/pouchdb-server');
  const stderr = [];
  const server = fork(bin, serverArgs, {
    cwd: dir,
    execArgv: ['-r', path.join(__dirname, 'count.js')],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  server.stderr.on('data', (d) => stderr.push(d.toString()));
  try {
    await waitUp(base + '/', server, stderr);
    // The shared database exists before the phones come online, as a deployment's does.
    const created = await fetch(base + '/visits', { method: 'PUT' });
    if (!created.ok) throw new Error('could not create the database: ' + created.status);

    // Offline: every phone records its visits in its own local database.
    const locals = [];
    let docBytes = 0;
    let docs = 0;
    for (let i = 0; i < clients.length; i++) {
      const local = new PouchDB(`phone-${i}`, { adapter: 'memory' });
      for (const doc of clients[i].docs) {
        await local.put(doc);
        docBytes += Buffer.byteLength(JSON.stringify(doc));
        docs += 1;
      }
      locals.push(local);
    }

    const before = await ask(server, 'reset');
    const clientCpu0 = process.cpuUsage();
    const latencies = [];
    const started = process.hrtime.bigint();
    const results = await Promise.all(locals.map(async (local) => {
      const t = process.hrtime.bigint();
      const r = await local.replicate.to(base + '/visits', { batch_size: batchSize });
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      return r;
    }));
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    const clientCpu = process.cpuUsage(clientCpu0);
    const stats = await ask(server, 'stats');

    let written = 0;
    for (const r of results) {
      if (!r.ok || (r.errors && r.errors.length)) {
        throw new Error('replication failed: ' + JSON.stringify(r.errors));
      }
      written += r.docs_written;
    }
    const info = await (await fetch(base + '/visits')).json();
    if (info.doc_count !== docs || written !== docs) {
      throw new Error(`${docs} documents replicated but the server holds ${info.doc_count}` +
        ` (${written} written)`);
    }
    latencies.sort((a, b) => a - b);
    const cpuS = (u) => (u.user + u.system) / 1e6;
    const out = {
      side: 'pouchdb',
      pouchdb: require('pouchdb/package.json').version,
      pouchdb_server: require('pouchdb-server/package.json').version,
      node: process.version,
      server_storage: storage,
      client_adapter: 'memory',
      batch_size: batchSize,
      clients: clients.length,
      docs,
      doc_json_bytes_mean: docBytes / docs,
      wall_s: wallS,
      docs_per_s: docs / wallS,
      p50_ms: quantile(latencies, 0.5),
      p99_ms: quantile(latencies, 0.99),
      requests: stats.requests,
      requests_per_replication: stats.requests / clients.length,
      request_kinds: stats.kinds,
      bytes_up: stats.bytes_in,
      bytes_up_per_doc: stats.bytes_in / docs,
      bytes_down: stats.bytes_out,
      bytes_down_per_replication: stats.bytes_out / clients.length,
      server_cpu_s: cpuS(stats.cpu) - cpuS(before.cpu),
      client_cpu_s: cpuS(clientCpu),
    };
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    server.kill('SIGTERM');
  }
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
