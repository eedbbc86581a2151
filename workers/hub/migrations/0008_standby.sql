-- The standby hub: mail a standby takes while its primary is down is held for the primary, then
-- handed back to it (same delivery id, so the primary's de-duplication collapses anything it had
-- already stored); and the hub's own record of the directory exports it wrote or applied.

-- NULL: ordinary mail (routed onward on this hub). 'held': taken by a standby, waiting for its
-- primary. 'handed_back': the primary acknowledged it (stored or duplicate). 'released': held mail
-- a promoted standby sent to onward routing itself.
ALTER TABLE messages ADD COLUMN standby_state TEXT CHECK (standby_state IN ('held', 'handed_back', 'released'));
ALTER TABLE messages ADD COLUMN standby_changed_at TEXT;
ALTER TABLE messages ADD COLUMN standby_error TEXT;
CREATE INDEX messages_held ON messages (id) WHERE standby_state = 'held';

-- Small named values of the backup and standby machinery: the last export written (its key, root
-- and content hash, to skip unchanged exports), the export a standby applied, the primary's last
-- seen health. One row per name; the value is JSON.
CREATE TABLE backup_state (
  name TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
