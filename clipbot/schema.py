"""The store's schema, one script per version: a release only ever appends to this list."""

MIGRATIONS = (
    """
    CREATE TABLE subscriptions (
        channel_id TEXT PRIMARY KEY,
        team_id TEXT NOT NULL,
        camera TEXT,
        min_duration_sec INTEGER,
        include_private INTEGER NOT NULL DEFAULT 0,
        include_monitoring INTEGER NOT NULL DEFAULT 0,
        created_by TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        start_uuids TEXT NOT NULL DEFAULT '[]',
        broken TEXT
    );
    CREATE TABLE feed (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        position_ms INTEGER
    );
    CREATE TABLE cards (
        clip_uuid TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        ts TEXT,
        kind TEXT NOT NULL DEFAULT 'card',
        clip TEXT NOT NULL,
        camera_names TEXT NOT NULL DEFAULT '[]',
        saved_by TEXT,
        thumbnail_file_id TEXT,
        thumbnail_pending INTEGER NOT NULL DEFAULT 0,
        posted_at_ms INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'open',
        state_by TEXT,
        state_at_ms INTEGER,
        owner TEXT,
        note TEXT,
        version INTEGER NOT NULL DEFAULT 0,
        reminded INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (clip_uuid, channel_id)
    );
    CREATE INDEX cards_by_channel ON cards (channel_id, state);
    CREATE TABLE triage_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        clip_uuid TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        action TEXT NOT NULL,
        user_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        note TEXT
    );
    CREATE TABLE health (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_success_ms INTEGER,
        last_error TEXT,
        last_error_ms INTEGER
    );
    INSERT INTO feed (id, position_ms) VALUES (1, NULL);
    INSERT INTO health (id) VALUES (1);
    """,
    # 2: daily summaries, one row per channel and local day, written before the post goes out.
    """
    CREATE TABLE summaries (
        channel_id TEXT NOT NULL,
        day TEXT NOT NULL,
        state TEXT NOT NULL,
        ts TEXT,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (channel_id, day)
    );
    """,
    # 3: what a More button stands for, kept here so the button itself carries only a short key.
    """
    CREATE TABLE button_states (
        button_key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL
    );
    """,
    # 4: the leader's lease: which replica polls, and until when (the database's clock, ms).
    """
    CREATE TABLE lease (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        holder TEXT,
        expires_at_ms INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO lease (id, holder, expires_at_ms) VALUES (1, NULL, 0);
    """,
    # 5: the audit trail (who subscribed, muted, shared, uploaded) and Slack deliveries already
    # acted on, so a retried delivery is acknowledged without acting twice.
    """
    CREATE TABLE audit (
        at_ms BIGINT NOT NULL,
        kind TEXT NOT NULL,
        user_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '',
        clip_uuid TEXT,
        expires_at_ms BIGINT
    );
    CREATE INDEX audit_by_time ON audit (at_ms);
    CREATE TABLE deliveries (
        delivery_key TEXT PRIMARY KEY,
        at_ms BIGINT NOT NULL
    );
    CREATE INDEX deliveries_by_time ON deliveries (at_ms);
    """,
    # 6: who a subscription's new cards mention (a Slack mention: <@U…> or <!subteam^S…>).
    """
    ALTER TABLE subscriptions ADD COLUMN notify TEXT;
    """,
    # 7: videos uploaded to Slack, so a later press of Video shares the same file.
    """
    CREATE TABLE videos (
        clip_uuid TEXT PRIMARY KEY,
        file_id TEXT NOT NULL,
        permalink TEXT,
        size_bytes INTEGER NOT NULL,
        channel_id TEXT NOT NULL,
        thread_ts TEXT NOT NULL,
        uploaded_by TEXT NOT NULL,
        uploaded_at_ms INTEGER NOT NULL
    );
    """,
    # 8: when the newest `clipbot run` started: `clipbot healthcheck` gives a new start one grace.
    """
    ALTER TABLE health ADD COLUMN started_at_ms INTEGER;
    """,
    # 9: quiet hours on subscriptions; mutes, and the clips each mute held back (counted once).
    """
    ALTER TABLE subscriptions ADD COLUMN hours TEXT;
    ALTER TABLE subscriptions ADD COLUMN days TEXT;
    CREATE TABLE mutes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel_id TEXT NOT NULL,
        camera TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        until_ms INTEGER NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE INDEX mutes_by_channel ON mutes (channel_id, until_ms);
    CREATE TABLE held (
        mute_id INTEGER NOT NULL,
        clip_uuid TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (mute_id, clip_uuid)
    );
    """,
    # 10: per-subscription feed positions and consecutive failures; explicit poller health;
    # thread replies written down before they are sent, so a lost answer can be looked up.
    """
    ALTER TABLE subscriptions ADD COLUMN position_ms INTEGER;
    ALTER TABLE subscriptions ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
    UPDATE subscriptions SET position_ms = (SELECT position_ms FROM feed WHERE id = 1);
    ALTER TABLE health ADD COLUMN last_outcome TEXT;
    ALTER TABLE health ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE health ADD COLUMN skipped_records INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE replies (
        key TEXT PRIMARY KEY,
        channel_id TEXT NOT NULL,
        thread_ts TEXT NOT NULL,
        text TEXT NOT NULL,
        ts TEXT,
        created_at_ms INTEGER NOT NULL
    );
    """,
    # 11: each change to what a card shows bumps `rev`; `shown_rev` is the newest rev known to
    # be in Slack, so a redraw that raced another (on any replica) draws again.
    """
    ALTER TABLE cards ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cards ADD COLUMN shown_rev INTEGER NOT NULL DEFAULT 0;
    """,
    # 12: the Slack file of each clip's thumbnail, written as soon as it is uploaded, so a card
    # posted again (its first post refused or in doubt) reuses it rather than uploading anew.
    """
    CREATE TABLE thumbnails (
        clip_uuid TEXT PRIMARY KEY,
        file_id TEXT NOT NULL,
        uploaded_at_ms INTEGER NOT NULL
    );
    """,
    # 13: burst grouping: a subscription's window; a thread line's card; a card's line count.
    """
    ALTER TABLE subscriptions ADD COLUMN group_ms INTEGER;
    ALTER TABLE cards ADD COLUMN group_of TEXT;
    ALTER TABLE cards ADD COLUMN grouped INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cards ADD COLUMN grouped_shown INTEGER NOT NULL DEFAULT 0;
    """,
    # 14: which clip's video a replica is downloading, so no other fetches it at the same time.
    """
    CREATE TABLE video_fetches (
        clip_uuid TEXT PRIMARY KEY,
        started_at_ms INTEGER NOT NULL
    );
    """,
    # 15: when a cycle last delivered something, so a long cycle (a backlog draining at Slack's
    # pace) reads as alive to healthcheck while it has not finished.
    """
    ALTER TABLE health ADD COLUMN last_progress_ms INTEGER;
    """,
    # 16: a thread reply being posted is claimed until a time (the database's clock, ms), so no
    # replica's clean-up takes it for lost while another replica is still sending it.
    """
    ALTER TABLE replies ADD COLUMN claimed_until_ms INTEGER NOT NULL DEFAULT 0;
    """,
    # 17: the digest a clip was posted in, named by the digest's first clip: a digest's metadata
    # carries only that key (and a count), not every uuid, so it stays small however long.
    """
    ALTER TABLE cards ADD COLUMN digest_of TEXT;
    """,
    # 18: the odd feed records set aside, each once by its key, so a restart reading one again
    # does not count it again (health.skipped_records keeps the count from before this).
    """
    CREATE TABLE odd_records (
        record_key TEXT PRIMARY KEY,
        seen_at_ms INTEGER NOT NULL
    );
    """,
)
