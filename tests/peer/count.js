// Preloaded into the pouchdb-server process (`node -r ./count.js .../bin/pouchdb-server`):
// counts what crosses the server's sockets and the HTTP requests it answers, and reports them
// to the parent (bench.js) over the IPC channel. It changes nothing the server does.
'use strict';
const http = require('http');

const sockets = new Set();
let closedRead = 0;
let closedWritten = 0;
let requests = 0;
let kinds = {};
let base = { read: 0, written: 0 };

function totals() {
  let read = closedRead;
  let written = closedWritten;
  for (const s of sockets) {
    read += s.bytesRead;
    written += s.bytesWritten;
  }
  return { read, written };
}

// A request's kind: the method and the path with the database name and document ids elided.
function kind(req) {
  const path = (req.url || '').split('?')[0];
  const parts = path.split('/').filter(Boolean);
  let shape;
  if (parts.length === 0) shape = '/';
  else if (parts[0].startsWith('_')) shape = '/' + parts[0];
  else if (parts.length === 1) shape = '/{db}';
  else if (parts[1] === '_local') shape = '/{db}/_local/{id}';
  else if (parts[1].startsWith('_')) shape = '/{db}/' + parts[1];
  else shape = '/{db}/{doc}';
  return req.method + ' ' + shape;
}

const createServer = http.createServer;
http.createServer = function (...args) {
  const server = createServer.apply(this, args);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      closedRead += socket.bytesRead;
      closedWritten += socket.bytesWritten;
      sockets.delete(socket);
    });
  });
  server.on('request', (req) => {
    requests += 1;
    const k = kind(req);
    kinds[k] = (kinds[k] || 0) + 1;
  });
  return server;
};

process.on('message', (m) => {
  if (!m || typeof m !== 'object') return;
  if (m.cmd === 'reset') {
    base = totals();
    requests = 0;
    kinds = {};
    process.send({ reply: 'reset', cpu: process.cpuUsage() });
  } else if (m.cmd === 'stats') {
    const t = totals();
    process.send({
      reply: 'stats',
      requests,
      kinds,
      bytes_in: t.read - base.read,
      bytes_out: t.written - base.written,
      cpu: process.cpuUsage(),
    });
  }
});
process.on('disconnect', () => process.exit(0));
