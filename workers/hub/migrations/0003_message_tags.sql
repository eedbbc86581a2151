-- Verdict tags kept with each stored message (the raw bytes stay exactly as received), and the
-- quarantine as its own view of the mailbox.
ALTER TABLE messages ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
CREATE INDEX messages_by_action ON messages (action, id);
