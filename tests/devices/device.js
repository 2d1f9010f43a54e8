// A real PouchDB device (pouchdb-node, LevelDB on disk), driven by tests and benchmarks over JSON lines on stdin.
// Each line: {"id": n, "cmd": "...", "args": {...}}; each answer: {"id": n, "ok": true, "result": ...} or
// {"id": n, "ok": false, "error": "..."}. Every HTTP request the device makes is logged (method and URL) so tests
// can check what a real replicator sent (e.g. that it resumed from its checkpoint rather than since=0).
'use strict';
const path = require('path');
const readline = require('readline');
const PouchDB = require('pouchdb-node');
PouchDB.plugin(require('pouchdb-adapter-memory'));

const dbs = new Map();
const live = new Map();
const requests = [];
let token = null;
let nextHandle = 1;

function authFetch(url, opts) {
  // A URL with its own credentials (a CouchDB reached directly) keeps the Basic header PouchDB made from them.
  if (token && !opts.headers.has('Authorization')) opts.headers.set('Authorization', 'Bearer ' + token);
  requests.push({ method: opts.method || 'GET', url: String(url) });
  return PouchDB.fetch(url, opts);
}

function remote(url) {
  return new PouchDB(url, { fetch: authFetch });
}

function local(name) {
  const db = dbs.get(name);
  if (!db) throw new Error('no local database ' + name);
  return db;
}

function summary(result) {
  if (!result) return null;
  return {
    ok: result.ok, status: result.status, docs_read: result.docs_read, docs_written: result.docs_written,
    doc_write_failures: result.doc_write_failures, last_seq: result.last_seq,
    errors: (result.errors || []).map(String),
  };
}

function replicationOptions(args) {
  return { batch_size: args.batch_size || 100, batches_limit: args.batches_limit || 10, retry: !!args.retry };
}

function attachmentBytes(size, seed) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 31 + seed * 7) & 0xff;
  return buf;
}

// A uuid-shaped document key that sorts by j: 00000000-0000-4000-8000-00000000002a for j = 42.
function keyFrom(j) {
  return `00000000-0000-4000-8000-${j.toString(16).padStart(12, '0')}`;
}

const commands = {
  async open({ name, dir, adapter }) {
    if (dbs.has(name)) return true;
    const options = adapter === 'memory' ? { adapter: 'memory' } : {};
    dbs.set(name, new PouchDB(adapter === 'memory' ? name : path.join(dir, name), options));
    return true;
  },
  async setToken(args) { token = args.token; return true; },
  async bulk({ db, docs, new_edits }) {
    const options = new_edits === false ? { new_edits: false } : {};
    return local(db).bulkDocs(docs, options);
  },
  async generate({ db, count, prefix, attachmentEvery, attachmentSize, start, template }) {
    // Fast local generation: batches of 500. Without a template: generic `bench` documents, every Nth with a
    // binary "photo". With a template (a valid form document, e.g. a household): each document is a deep copy of
    // it (its own _attachments included) with `_id` = `${prefix}:${uuid-shaped key from j}`, so `prefix` must
    // name the template's type (`household` or `household:run42`); `attachmentEvery` then adds nothing, as a form
    // accepts only the attachments it declares.
    const from = start || 0;
    for (let i = from; i < from + count; i += 500) {
      const docs = [];
      for (let j = i; j < Math.min(i + 500, from + count); j++) {
        if (template) {
          docs.push({ ...JSON.parse(JSON.stringify(template)), _id: `${prefix}:${keyFrom(j)}` });
          continue;
        }
        const doc = { _id: `${prefix}:${String(j).padStart(6, '0')}`, type: 'bench', n: j, text: 'x'.repeat(200) };
        if (attachmentEvery && j % attachmentEvery === 0) {
          doc._attachments = { 'photo.jpg': { content_type: 'image/jpeg', data: attachmentBytes(attachmentSize || 20000, j).toString('base64') } };
        }
        docs.push(doc);
      }
      await local(db).bulkDocs(docs);
    }
    return (await local(db).info()).doc_count;
  },
  async replicate({ db, url, direction, ...args }) {
    const source = direction === 'push' ? local(db) : remote(url);
    const target = direction === 'push' ? remote(url) : local(db);
    const denied = [];
    const rep = PouchDB.replicate(source, target, replicationOptions(args));
    rep.on('denied', (err) => denied.push({ id: err && err.id, reason: err && (err.reason || err.message) }));
    try {
      const result = await rep;
      return { ...summary(result), denied };
    } catch (err) {
      return { ok: false, error: String(err && (err.message || err.name || err)), status: err && err.status, denied };
    }
  },
  async liveStart({ db, url, direction, ...args }) {
    const source = direction === 'push' ? local(db) : remote(url);
    const target = direction === 'push' ? remote(url) : local(db);
    const options = { ...replicationOptions(args), live: true, retry: true, heartbeat: args.heartbeat || 10000 };
    const handle = nextHandle++;
    const state = { changes: 0, errors: [], paused: 0 };
    const rep = PouchDB.replicate(source, target, options);
    rep.on('change', (info) => { state.changes += info.docs_written || info.docs.length || 0; });
    rep.on('paused', () => { state.paused += 1; });
    rep.on('error', (err) => state.errors.push(String(err)));
    live.set(handle, { rep, state });
    return handle;
  },
  async liveState({ handle }) { return live.get(handle).state; },
  async liveStop({ handle }) {
    const entry = live.get(handle);
    if (!entry) return false;
    entry.rep.cancel();
    live.delete(handle);
    return entry.state;
  },
  async get({ db, id, ...options }) {
    try { return await local(db).get(id, options); } catch (err) { if (err.status === 404) return null; throw err; }
  },
  async attachment({ db, id, name }) {
    const data = await local(db).getAttachment(id, name);
    return data.toString('base64');
  },
  async allDocs({ db, ...options }) { return local(db).allDocs(options); },
  async info({ db }) { return local(db).info(); },
  async waitFor({ db, id, timeout_ms }) {
    const deadline = Date.now() + (timeout_ms || 30000);
    while (Date.now() < deadline) {
      try { return await local(db).get(id); } catch (err) { if (err.status !== 404) throw err; }
      await new Promise((r) => setTimeout(r, 50));
    }
    return null;
  },
  async requests({ clear }) {
    const copy = requests.slice();
    if (clear) requests.length = 0;
    return copy;
  },
  async close() {
    for (const { rep } of live.values()) rep.cancel();
    for (const db of dbs.values()) await db.close();
    dbs.clear();
    return true;
  },
};

// A request still in flight when a test kills the gateway can reject where nobody awaits it; the device must
// survive that (a real app would), so it is logged, never fatal.
process.on('unhandledRejection', (err) => process.stderr.write('device: unhandled rejection: ' + (err && err.stack || err) + '\n'));
process.on('uncaughtException', (err) => process.stderr.write('device: uncaught exception: ' + (err && err.stack || err) + '\n'));

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  let message;
  try { message = JSON.parse(line); } catch (err) { return; }
  const handler = commands[message.cmd];
  try {
    if (!handler) throw new Error('unknown command ' + message.cmd);
    const result = await handler(message.args || {});
    process.stdout.write(JSON.stringify({ id: message.id, ok: true, result }) + '\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ id: message.id, ok: false, error: String(err && (err.stack || err)) }) + '\n');
  }
});
rl.on('close', () => process.exit(0));
