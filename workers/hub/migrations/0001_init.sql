-- Directory source of truth and the mailbox index.

-- Domains Portcullis accepts mail for.
CREATE TABLE domains (
  name TEXT PRIMARY KEY NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Known recipients (normalised, lower-case addresses).
CREATE TABLE recipients (
  address TEXT PRIMARY KEY NOT NULL,
  domain TEXT NOT NULL REFERENCES domains (name) ON DELETE CASCADE,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX recipients_by_domain ON recipients (domain);

-- Messages taken into the mailbox store; the raw bytes live in R2 under r2_key.
CREATE TABLE messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id TEXT NOT NULL UNIQUE,
  edge_id TEXT NOT NULL,
  mail_from TEXT NOT NULL,
  rcpt_to TEXT NOT NULL,            -- JSON array of envelope recipients
  subject TEXT,
  message_id TEXT,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  r2_key TEXT NOT NULL,
  action TEXT NOT NULL,             -- accept | quarantine
  scl INTEGER NOT NULL,
  agents TEXT NOT NULL,             -- JSON array of per-agent outcomes
  received_at TEXT NOT NULL,        -- when the edge received it
  stored_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
