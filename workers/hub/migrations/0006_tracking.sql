-- Message tracking: one row per event the edges report on the `portcullis-tracking` queue (every
-- decision, every delivery round, every spool round, every delivery status notification). The
-- cron deletes rows older than TRACKING_RETENTION_DAYS.

-- seq orders events that share a timestamp and keeps cursors stable; event_id (a UUID made at the
-- edge) is unique, so a queue batch delivered twice inserts nothing twice.
CREATE TABLE tracking_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  at TEXT NOT NULL,                   -- ISO 8601 (UTC, ms) when the edge recorded the event
  edge_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('decision', 'delivery', 'spool', 'dsn')),
  delivery_id TEXT,                   -- NULL for mail that was never accepted (rejected, deferred)
  message_id TEXT,                    -- the Message-ID header, in angle brackets
  sender TEXT NOT NULL COLLATE NOCASE, -- envelope sender; '' for the null sender
  recipients TEXT NOT NULL,           -- JSON array of envelope recipients (searchable in tracking_recipients)
  action TEXT,                        -- decision: the verdict action; dsn: delayed | failed
  outcome TEXT NOT NULL,              -- see docs/operations.md "Message tracking"
  smtp TEXT,                          -- the SMTP reply the sender got (decisions)
  scl INTEGER,
  agents TEXT NOT NULL,               -- JSON array of per-agent outcomes (decisions)
  hub_id TEXT,                        -- the hub that took the message, or the last one tried
  attempts TEXT NOT NULL,             -- JSON array: this round's attempts [{hub, ok, ms, error?}]
  round INTEGER,                      -- delivery round: 1 in the email handler, then one per spool attempt
  size INTEGER,
  detail TEXT,                        -- error or reason, for operators
  latency_ms INTEGER                  -- decision: since the message arrived; rounds: the round's duration
);
CREATE INDEX tracking_events_by_at ON tracking_events (at);
CREATE INDEX tracking_events_by_message_id ON tracking_events (message_id, at);
CREATE INDEX tracking_events_by_sender ON tracking_events (sender, at);
CREATE INDEX tracking_events_by_outcome ON tracking_events (outcome, at);
CREATE INDEX tracking_events_by_delivery ON tracking_events (delivery_id, at);
-- The mail flow chart counts decision events per time bucket.
CREATE INDEX tracking_events_by_kind ON tracking_events (kind, at, outcome);

-- One row per event and recipient: search by recipient, newest first, without scanning JSON.
-- The primary key doubles as the search index; event_seq finds the rows to delete with their event.
CREATE TABLE tracking_recipients (
  recipient TEXT NOT NULL COLLATE NOCASE,
  at TEXT NOT NULL,
  event_seq INTEGER NOT NULL,
  PRIMARY KEY (recipient, at, event_seq)
) WITHOUT ROWID;
CREATE INDEX tracking_recipients_by_event ON tracking_recipients (event_seq);
