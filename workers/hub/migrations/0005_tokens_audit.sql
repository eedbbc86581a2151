-- API tokens with roles for the admin API, and the audit log of every change made through it.

-- One row per API token. Only the SHA-256 of a token is kept (hex, of its UTF-8 text): the token
-- itself is shown once, in the answer that creates it. A token is refused once revoked_at is set
-- or expires_at has passed; rows are never deleted, so the audit log's actors stay resolvable.
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('read-only', 'operator', 'admin')),
  token_hash TEXT UNIQUE,           -- NULL only for the bootstrap row: that token is the ADMIN_TOKEN secret
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  created_by TEXT,                  -- id of the token that created this one
  expires_at TEXT,                  -- ISO 8601; NULL: does not expire
  last_used_at TEXT,                -- written at most once a minute per token
  revoked_at TEXT,
  revoked_by TEXT
);

-- The ADMIN_TOKEN secret, as the admin token it always is: named, so the audit log and the
-- last-used time can refer to it like to any other token.
INSERT INTO api_tokens (id, name, role, token_hash) VALUES ('bootstrap', 'bootstrap', 'admin', NULL);

-- Every change made through the admin API: who (token id and name, never the token), what (method,
-- path with addresses masked, a summary, the object changed), when, and the HTTP status it got.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,                 -- ISO 8601, when the change was answered
  actor_id TEXT NOT NULL,           -- api_tokens.id
  actor_name TEXT NOT NULL,         -- the token's name at the time
  actor_role TEXT NOT NULL,
  access_identity TEXT,             -- the Cloudflare Access user (email or service token), when Access is in front
  method TEXT NOT NULL,
  path TEXT NOT NULL,               -- the request path, recipient addresses masked
  summary TEXT NOT NULL,
  object_id TEXT,                   -- what was changed (a domain, a token id, a masked address …)
  status INTEGER NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_actor ON audit_log (actor_id, id);
