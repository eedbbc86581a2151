-- The directory as EdgeSync needs it: recipients with their proxy addresses (aliases) and flags,
-- keyed hashes stored at write time, a change log filled by triggers, policy objects, and the
-- edges the hub keeps in sync.

-- Per-recipient flags.
ALTER TABLE recipients ADD COLUMN reject_internet INTEGER NOT NULL DEFAULT 0 CHECK (reject_internet IN (0, 1));
ALTER TABLE recipients ADD COLUMN scl_override INTEGER CHECK (scl_override BETWEEN 0 AND 9);
ALTER TABLE recipients ADD COLUMN updated_at TEXT;

-- Every address that delivers to a recipient: its primary address and each alias. `hash` is the
-- first 16 bytes of HMAC-SHA-256(DIRECTORY_KEY, address), computed by the hub when it writes the
-- row, so building a snapshot never re-hashes the whole directory.
CREATE TABLE recipient_addresses (
  address TEXT PRIMARY KEY NOT NULL,
  recipient TEXT NOT NULL REFERENCES recipients (address) ON DELETE CASCADE ON UPDATE CASCADE,
  domain TEXT NOT NULL REFERENCES domains (name) ON DELETE CASCADE,
  hash BLOB NOT NULL
);
CREATE INDEX recipient_addresses_by_recipient ON recipient_addresses (recipient);
CREATE INDEX recipient_addresses_by_hash ON recipient_addresses (hash);

-- Every change to what an edge would answer, in order. Triggers fill it, so no write path can
-- forget; the hub turns the changes since a snapshot's base into a small overlay.
CREATE TABLE directory_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('address', 'domain', 'policy')),
  hash BLOB,                      -- for kind = 'address'
  changed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TRIGGER recipient_addresses_insert AFTER INSERT ON recipient_addresses BEGIN
  INSERT INTO directory_changes (kind, hash) VALUES ('address', NEW.hash);
END;
CREATE TRIGGER recipient_addresses_delete AFTER DELETE ON recipient_addresses BEGIN
  INSERT INTO directory_changes (kind, hash) VALUES ('address', OLD.hash);
END;
CREATE TRIGGER recipient_addresses_update AFTER UPDATE ON recipient_addresses BEGIN
  INSERT INTO directory_changes (kind, hash) VALUES ('address', OLD.hash);
  INSERT INTO directory_changes (kind, hash) SELECT 'address', NEW.hash WHERE NEW.hash <> OLD.hash;
END;
CREATE TRIGGER recipients_flags_update AFTER UPDATE OF reject_internet, scl_override ON recipients BEGIN
  INSERT INTO directory_changes (kind, hash) SELECT 'address', hash FROM recipient_addresses WHERE recipient = NEW.address;
END;
CREATE TRIGGER domains_insert AFTER INSERT ON domains BEGIN
  INSERT INTO directory_changes (kind) VALUES ('domain');
END;
CREATE TRIGGER domains_delete AFTER DELETE ON domains BEGIN
  INSERT INTO directory_changes (kind) VALUES ('domain');
END;

-- Policy objects the hygiene and delivery layers read at the edge, one validated JSON document
-- per name (e.g. 'ip-lists', 'sender-lists', 'safe-senders', 'attachments', 'thresholds',
-- 'hubs', 'relay-clients').
CREATE TABLE policies (
  name TEXT PRIMARY KEY NOT NULL,
  body TEXT NOT NULL,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TRIGGER policies_insert AFTER INSERT ON policies BEGIN
  INSERT INTO directory_changes (kind) VALUES ('policy');
END;
CREATE TRIGGER policies_update AFTER UPDATE ON policies BEGIN
  INSERT INTO directory_changes (kind) VALUES ('policy');
END;
CREATE TRIGGER policies_delete AFTER DELETE ON policies BEGIN
  INSERT INTO directory_changes (kind) VALUES ('policy');
END;

-- Snapshots this hub built. Blobs live in R2 under snapshots/blob/<sha256>; a snapshot is a base
-- (full shards, built from the directory as of base_seq) plus an overlay of the changes up to
-- through_seq, carried inside the manifest.
CREATE TABLE snapshots (
  root TEXT PRIMARY KEY NOT NULL,
  base_seq INTEGER NOT NULL,
  through_seq INTEGER NOT NULL,
  recipients INTEGER NOT NULL,
  overlay_entries INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX snapshots_by_through ON snapshots (through_seq);

-- Edges this hub keeps in sync, how to reach them, and how the last attempt went.
CREATE TABLE edges (
  id TEXT PRIMARY KEY NOT NULL,
  transport TEXT NOT NULL CHECK (transport IN ('binding', 'https')),
  binding TEXT,                   -- service binding name, for transport = 'binding'
  url TEXT,                       -- base URL, for transport = 'https' (signed requests)
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  last_attempt_at TEXT,
  last_success_at TEXT,
  last_root TEXT,
  last_version INTEGER,
  last_error TEXT,
  last_blobs_written INTEGER,     -- KV writes of the last sync that committed a new version
  last_bytes_written INTEGER,
  lease_holder TEXT,
  lease_expires_at TEXT,
  CHECK ((transport = 'binding' AND binding IS NOT NULL) OR (transport = 'https' AND url IS NOT NULL))
);
