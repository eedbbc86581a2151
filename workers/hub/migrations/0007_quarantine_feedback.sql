-- Quarantine actions (release, delete) and operators' spam/ham reports that feed the content
-- filter's model.

-- Who took a message out of the quarantine, and when. A released message becomes action 'accept'
-- (its bytes move from quarantine/… to messages/…); a deleted one becomes action 'deleted' (its
-- bytes are gone). The row stays either way, for audit.
ALTER TABLE messages ADD COLUMN released_at TEXT;
ALTER TABLE messages ADD COLUMN released_by TEXT;
ALTER TABLE messages ADD COLUMN deleted_at TEXT;
ALTER TABLE messages ADD COLUMN deleted_by TEXT;

-- Operators' reports: "this message is ham" (a false positive when it was quarantined) or "this
-- message is spam" (a false negative when it was delivered). `tokens` is the JSON array of the
-- message's token hashes (32-bit FNV-1a, as the edge's tokenizer gives them: no text), emptied
-- when the report is withdrawn. Rows are never deleted: a withdrawn report stays for audit.
CREATE TABLE feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id INTEGER NOT NULL,      -- messages.id (no foreign key: the report outlives the message's bytes)
  verdict TEXT NOT NULL CHECK (verdict IN ('ham', 'spam')),
  message_action TEXT NOT NULL,     -- the message's action when reported: quarantine | accept
  message_scl INTEGER NOT NULL,     -- the SCL the edge gave it
  tokens TEXT NOT NULL,             -- JSON array of token hashes; '[]' once withdrawn
  token_count INTEGER NOT NULL,
  reported_by TEXT NOT NULL,
  reported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  withdrawn_at TEXT,
  withdrawn_by TEXT
);
-- One standing report per message: a second report replaces the first (withdraws it).
CREATE UNIQUE INDEX feedback_active_by_message ON feedback (message_id) WHERE withdrawn_at IS NULL;

-- The sum of the standing reports: per token hash, how many spam and ham reports contain it.
-- `seen` is the feedback generation that last added to it (recent tokens are kept first when the
-- model's feedback share is full). Kept by the triggers below, so no write path can forget it.
CREATE TABLE feedback_tokens (
  hash INTEGER PRIMARY KEY NOT NULL,
  spam INTEGER NOT NULL DEFAULT 0,
  ham INTEGER NOT NULL DEFAULT 0,
  seen INTEGER NOT NULL DEFAULT 0
);
-- The rebuild reads the strongest-supported tokens first, a bounded number of them, by this index.
CREATE INDEX feedback_tokens_by_weight ON feedback_tokens (spam + ham DESC, seen DESC);

-- One row. `generation` grows with every change to the standing reports; `built_generation` is
-- the generation the published content-model policy was built from (a rebuild never overwrites
-- a newer one). `nspam`/`nham`: standing spam and ham reports.
CREATE TABLE feedback_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL DEFAULT 0,
  built_generation INTEGER NOT NULL DEFAULT 0,
  nspam INTEGER NOT NULL DEFAULT 0,
  nham INTEGER NOT NULL DEFAULT 0
);
INSERT INTO feedback_state (id) VALUES (1);

CREATE TRIGGER feedback_insert AFTER INSERT ON feedback WHEN NEW.withdrawn_at IS NULL BEGIN
  UPDATE feedback_state SET generation = generation + 1,
    nspam = nspam + (NEW.verdict = 'spam'), nham = nham + (NEW.verdict = 'ham');
  INSERT INTO feedback_tokens (hash, spam, ham, seen)
    SELECT value, NEW.verdict = 'spam', NEW.verdict = 'ham', (SELECT generation FROM feedback_state WHERE id = 1)
    FROM json_each(NEW.tokens) WHERE true
    ON CONFLICT (hash) DO UPDATE SET spam = spam + excluded.spam, ham = ham + excluded.ham, seen = excluded.seen;
END;

CREATE TRIGGER feedback_withdraw AFTER UPDATE OF withdrawn_at ON feedback
  WHEN OLD.withdrawn_at IS NULL AND NEW.withdrawn_at IS NOT NULL BEGIN
  UPDATE feedback_state SET generation = generation + 1,
    nspam = nspam - (OLD.verdict = 'spam'), nham = nham - (OLD.verdict = 'ham');
  UPDATE feedback_tokens SET spam = spam - (OLD.verdict = 'spam'), ham = ham - (OLD.verdict = 'ham')
    WHERE hash IN (SELECT value FROM json_each(OLD.tokens));
  DELETE FROM feedback_tokens WHERE spam <= 0 AND ham <= 0 AND hash IN (SELECT value FROM json_each(OLD.tokens));
END;

-- Reports are withdrawn, never deleted: a deleted standing report would leave its tokens in the sum.
CREATE TRIGGER feedback_keep BEFORE DELETE ON feedback WHEN OLD.withdrawn_at IS NULL BEGIN
  SELECT RAISE(ABORT, 'a standing report is withdrawn (withdrawn_at), not deleted');
END;
