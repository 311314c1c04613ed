'use strict';
// @node-oauth/oauth2-server peer for mobproc's benchmarks: the library's
// documented model functions over better-sqlite3, argon2id for passwords.
//
//   node server.js provision --db PATH --client-id ID --client-secret S --users N --password P
//   node server.js tokens --db PATH --count N        (bulk-insert N live tokens)
//   node server.js serve --db PATH --port P [--wal]
//
// NODE_ENV=production and --wal make the tuned mode; without them it runs as shipped.
const http = require('node:http');
const crypto = require('node:crypto');
const { parseArgs } = require('node:util');
const querystring = require('node:querystring');
const Database = require('better-sqlite3');
const argon2 = require('argon2');
const OAuth2Server = require('@node-oauth/oauth2-server');
const { Request, Response } = OAuth2Server;

// Same argon2id parameters as mobproc's user passwords (OWASP's minimum).
const ARGON2 = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const ACCESS_LIFETIME = 7200; // s, mobproc's
const REFRESH_LIFETIME = 14 * 24 * 3600;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS clients (id TEXT PRIMARY KEY, secret TEXT NOT NULL,
  grants TEXT NOT NULL, scope TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL,
  password_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (id INTEGER PRIMARY KEY,
  access_token TEXT UNIQUE NOT NULL, access_expires INTEGER NOT NULL,
  refresh_token TEXT UNIQUE, refresh_expires INTEGER,
  scope TEXT, client_id TEXT NOT NULL, user_id INTEGER);
`;

function openDb(path, wal) {
  const db = new Database(path);
  if (wal) {
    // better-sqlite3's README recommends WAL for performance.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.exec(SCHEMA);
  return db;
}

function makeModel(db) {
  const q = {
    client: db.prepare('SELECT * FROM clients WHERE id = ?'),
    user: db.prepare('SELECT * FROM users WHERE username = ?'),
    insert: db.prepare(`INSERT INTO tokens (access_token, access_expires, refresh_token,
      refresh_expires, scope, client_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    byAccess: db.prepare('SELECT * FROM tokens WHERE access_token = ?'),
    byRefresh: db.prepare('SELECT * FROM tokens WHERE refresh_token = ?'),
    revoke: db.prepare('UPDATE tokens SET refresh_token = NULL WHERE refresh_token = ?'),
  };
  const toClient = (row) => row && { id: row.id, grants: row.grants.split(' '), scope: row.scope.split(' ') };
  const toToken = (row) => row && {
    accessToken: row.access_token,
    accessTokenExpiresAt: new Date(row.access_expires),
    refreshToken: row.refresh_token,
    refreshTokenExpiresAt: row.refresh_expires ? new Date(row.refresh_expires) : undefined,
    scope: row.scope ? row.scope.split(' ') : [],
    client: { id: row.client_id },
    user: { id: row.user_id },
  };
  return {
    async getClient(clientId, clientSecret) {
      const row = q.client.get(clientId);
      if (!row) return null;
      // The library's docs store the secret as given; compare in constant time.
      if (clientSecret != null) {
        const a = Buffer.from(row.secret), b = Buffer.from(clientSecret);
        if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return null;
      }
      return toClient(row);
    },
    async getUser(username, password) {
      const row = q.user.get(username);
      if (!row || !(await argon2.verify(row.password_hash, password))) return null;
      return { id: row.id, username: row.username };
    },
    async getUserFromClient(client) {
      return { id: null, client: client.id };
    },
    async validateScope(user, client, scope) {
      if (!scope) return client.scope; // no scope asked: the client's default
      return scope.every((s) => client.scope.includes(s)) ? scope : false;
    },
    async saveToken(token, client, user) {
      q.insert.run(token.accessToken, token.accessTokenExpiresAt.getTime(),
        token.refreshToken ?? null, token.refreshTokenExpiresAt?.getTime() ?? null,
        token.scope ? token.scope.join(' ') : null, client.id, user.id ?? null);
      return { ...token, client, user };
    },
    async getAccessToken(accessToken) {
      return toToken(q.byAccess.get(accessToken));
    },
    async getRefreshToken(refreshToken) {
      return toToken(q.byRefresh.get(refreshToken));
    },
    async revokeToken(token) {
      return q.revoke.run(token.refreshToken).changes === 1;
    },
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(querystring.parse(Buffer.concat(chunks).toString())));
    req.on('error', reject);
  });
}

function send(res, status, body, headers = { 'cache-control': 'no-store' }) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

function serve(opts) {
  const db = openDb(opts.db, opts.wal);
  const model = makeModel(db);
  const oauth = new OAuth2Server({
    model,
    accessTokenLifetime: ACCESS_LIFETIME,
    refreshTokenLifetime: REFRESH_LIFETIME,
  });
  const server = http.createServer(async (req, res) => {
    try {
      if (req.method !== 'POST') return send(res, 405, { error: 'invalid_request' });
      const body = await readBody(req);
      if (req.url === '/oauth/token') {
        const request = new Request({ method: req.method, headers: req.headers, query: {}, body });
        const response = new Response({});
        try {
          await oauth.token(request, response);
        } catch (e) {
          return send(res, e.code || 500, { error: e.name, error_description: e.message });
        }
        return send(res, response.status, response.body, response.headers);
      }
      if (req.url === '/oauth/introspect') return await introspect(body, model, res);
      send(res, 404, { error: 'not_found' });
    } catch (e) {
      send(res, 500, { error: 'server_error' });
    }
  });
  server.keepAliveTimeout = 65000;
  server.listen(opts.port, '127.0.0.1');
}

// RFC 7662: the library has no introspection endpoint, so this is ours, with
// the same client authentication (form parameters) as the token endpoint.
async function introspect(body, model, res) {
  const client = body.client_id && body.client_secret
    ? await model.getClient(body.client_id, body.client_secret) : null;
  if (!client) return send(res, 401, { error: 'invalid_client' });
  if (!body.token) return send(res, 400, { error: 'invalid_request' });
  const token = await model.getAccessToken(body.token);
  if (!token || token.accessTokenExpiresAt < new Date()) return send(res, 200, { active: false });
  send(res, 200, {
    active: true,
    scope: token.scope.join(' '),
    client_id: token.client.id,
    token_type: 'Bearer',
    exp: Math.floor(token.accessTokenExpiresAt.getTime() / 1000),
    sub: token.user.id == null ? undefined : String(token.user.id),
  });
}

async function provision(opts) {
  const db = openDb(opts.db, false);
  db.prepare('INSERT INTO clients VALUES (?, ?, ?, ?)').run(opts['client-id'], opts['client-secret'],
    'password refresh_token client_credentials', 'MOBPROC');
  const add = db.prepare('INSERT INTO users (username, password_hash) VALUES (?, ?)');
  for (let i = 0; i < Number(opts.users); i++) {
    add.run(`${opts['username-prefix']}${i}`, await argon2.hash(opts.password, ARGON2));
  }
  db.close();
}

function bulkTokens(opts) {
  const db = openDb(opts.db, false);
  const client = db.prepare('SELECT id FROM clients LIMIT 1').get().id;
  const user = db.prepare('SELECT id FROM users LIMIT 1').get().id;
  const insert = db.prepare(`INSERT INTO tokens (access_token, access_expires, refresh_token,
    refresh_expires, scope, client_id, user_id) VALUES (?, ?, ?, ?, 'MOBPROC', ?, ?)`);
  const now = Date.now();
  const tok = () => crypto.randomBytes(30).toString('base64url');
  db.transaction((n) => {
    for (let i = 0; i < n; i++) {
      insert.run(tok(), now + ACCESS_LIFETIME * 1000, tok(), now + REFRESH_LIFETIME * 1000, client, user);
    }
  })(Number(opts.count));
  db.close();
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    db: { type: 'string' }, port: { type: 'string' }, wal: { type: 'boolean' },
    'client-id': { type: 'string' }, 'client-secret': { type: 'string' },
    users: { type: 'string', default: '1' }, 'username-prefix': { type: 'string', default: 'user' },
    password: { type: 'string' }, count: { type: 'string' },
  },
});
({ serve, provision, tokens: bulkTokens })[positionals[0]](values);
