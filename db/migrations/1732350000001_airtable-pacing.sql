-- Up Migration

-- Request pacing for Airtable, shared by every worker process: one row per limited key
-- ('base:<id>' at 5 req/s, 'token:<digest>' at 50 req/s) holding the start times of its most
-- recent requests. A request may start once the key's limit-th most recent start is a full window
-- old, so no one-second window ever holds more than the limit.
CREATE TABLE airtable_pacing (
  key text PRIMARY KEY,
  slots timestamptz[] NOT NULL DEFAULT '{}',
  penalty_until timestamptz
);

-- Reserves the earliest start time that keeps every key within its limit, and records it.
-- Rows are locked in key order, so concurrent callers never deadlock.
CREATE FUNCTION airtable_reserve_slot(p_keys text[], p_limits int[], p_window interval)
RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
  v_slot timestamptz;
  v_row airtable_pacing%ROWTYPE;
  v_len int;
  v_limit int;
  i int;
BEGIN
  INSERT INTO airtable_pacing (key) SELECT unnest(p_keys) ON CONFLICT (key) DO NOTHING;
  PERFORM 1 FROM airtable_pacing WHERE key = ANY (p_keys) ORDER BY key FOR UPDATE;
  -- Read the clock only once the locks are held: time spent waiting for them must not count.
  v_slot := clock_timestamp();
  FOR i IN 1 .. array_length(p_keys, 1) LOOP
    SELECT * INTO v_row FROM airtable_pacing WHERE key = p_keys[i];
    v_limit := p_limits[i];
    v_len := coalesce(array_length(v_row.slots, 1), 0);
    IF v_row.penalty_until IS NOT NULL THEN v_slot := greatest(v_slot, v_row.penalty_until); END IF;
    IF v_len > 0 THEN v_slot := greatest(v_slot, v_row.slots[v_len]); END IF;
    IF v_len >= v_limit THEN v_slot := greatest(v_slot, v_row.slots[v_len - v_limit + 1] + p_window); END IF;
  END LOOP;
  FOR i IN 1 .. array_length(p_keys, 1) LOOP
    UPDATE airtable_pacing
       SET slots = (slots || v_slot)[greatest(1, coalesce(array_length(slots, 1), 0) + 2 - p_limits[i]):]
     WHERE key = p_keys[i];
  END LOOP;
  RETURN v_slot;
END;
$$;

-- Down Migration

DROP FUNCTION airtable_reserve_slot(text[], int[], interval);
DROP TABLE airtable_pacing;
