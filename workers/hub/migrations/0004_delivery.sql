-- Delivery to this hub over signed HTTPS, and onward routing of stored mail per accepted domain.

-- Nonces of signed requests this hub accepted (POST /_portcullis/ingest, GET /_portcullis/ping).
-- A nonce is refused while its row exists; a row is kept until its signature's timestamp can no
-- longer pass the ±5 minute window, then the cron prunes it.
CREATE TABLE request_nonces (
  nonce TEXT PRIMARY KEY NOT NULL,
  expires_at TEXT NOT NULL          -- ISO 8601
);
CREATE INDEX request_nonces_by_expiry ON request_nonces (expires_at);

-- Where a domain's mail goes after it is stored. NULL: the mailbox store only. Otherwise a JSON
-- route without its secret: {"type":"webhook","url":"https://…"} or {"type":"forward","address":"…"}.
-- The webhook secret lives in its own column, so no code path that shows a route can show it.
ALTER TABLE domains ADD COLUMN route TEXT;
ALTER TABLE domains ADD COLUMN route_secret TEXT;

-- One onward step per stored message and distinct route, written in the same D1 batch as the
-- message row, so a crash between storing and routing cannot lose it. The route is copied in as
-- it was at ingest: a later change to the domain does not redirect mail already taken.
CREATE TABLE onward (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  route_key TEXT NOT NULL,          -- kind and target: one row per distinct route of a message
  kind TEXT NOT NULL CHECK (kind IN ('webhook', 'forward')),
  target TEXT NOT NULL,             -- the webhook URL or the forward address
  secret TEXT,                      -- the webhook secret, for kind = 'webhook'
  recipients TEXT NOT NULL,         -- JSON array: the message's recipients this route serves
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  last_attempt_at TEXT,
  next_attempt_at TEXT NOT NULL,    -- while pending: when it is due (an attempt in progress holds it ahead)
  expires_at TEXT NOT NULL,         -- no attempt starts after this; the row becomes failed
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  done_at TEXT,                     -- when it became delivered or failed
  UNIQUE (message_id, route_key)
);
CREATE INDEX onward_by_due ON onward (state, next_attempt_at);
CREATE INDEX onward_by_state ON onward (state, id);
