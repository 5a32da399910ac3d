-- Up Migration

-- Pacing rows are worth about a second: no WAL for them, so a reservation commits without waiting
-- for a disk flush (every caller of a token queues on its row). After a crash or a failover the
-- table starts empty; the first second afterwards is paced as if no request had been sent.
ALTER TABLE airtable_pacing SET UNLOGGED;

-- `slots` now holds the starts reserved and not known to have left, `sent` the starts whose requests
-- are known to have left on an open connection, at the time they left. Both keep every start of the
-- last two seconds (and those booked ahead), in order.
ALTER TABLE airtable_pacing ADD COLUMN sent timestamptz[] NOT NULL DEFAULT '{}';

-- Creates the keys' rows if missing and locks them in key order, so concurrent callers never deadlock.
CREATE FUNCTION airtable_lock_keys(p_keys text[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO airtable_pacing (key) SELECT unnest(p_keys) ON CONFLICT (key) DO NOTHING;
  PERFORM 1 FROM airtable_pacing WHERE key = ANY (p_keys) ORDER BY key FOR UPDATE;
END;
$$;

-- The earliest start that keeps every key within its limit.
--  * Not after the key's latest start: a base held back by its own window no longer holds back the
--    other bases of its token.
--  * `limit` starts less than a window apart forbid (last - window, first + window): a one-second
--    window holding the new start there would hold all of them too.
--  * The window: p_window while the key has a start not known to have left (it may leave late, up
--    to the caller's tolerance and its own stalls), p_sent_window once all have left (only the way
--    to Airtable remains uncertain).
--  * p_gaps spreads a key's starts: none within gap of another (a token's 50 would otherwise leave
--    together at each window boundary, and the last of them late).
--  * p_left/p_left_at: starts of these keys whose requests have left, and when.
DROP FUNCTION airtable_reserve_slot(text[], int[], interval);
CREATE FUNCTION airtable_reserve_slot(
  p_keys text[],
  p_limits int[],
  p_gaps interval[],
  p_window interval,
  p_sent_window interval,
  p_left timestamptz[],
  p_left_at timestamptz[]
)
RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz;
  v_slot timestamptz;
  v_busy record;
  i int;
BEGIN
  PERFORM airtable_lock_keys(p_keys);
  FOR i IN 1 .. coalesce(array_length(p_left, 1), 0) LOOP
    UPDATE airtable_pacing
       SET slots = slots[:array_position(slots, p_left[i]) - 1] || slots[array_position(slots, p_left[i]) + 1:],
           sent = sent || greatest(p_left[i], p_left_at[i])
     WHERE key = ANY (p_keys) AND p_left[i] = ANY (slots);
  END LOOP;
  -- Read the clock only once the locks are held: time spent waiting for them must not count.
  v_now := clock_timestamp();
  SELECT greatest(v_now, max(penalty_until)) INTO v_slot FROM airtable_pacing WHERE key = ANY (p_keys);
  FOR v_busy IN
    WITH starts AS (
      SELECT k.gap, x.at, lead(x.at, k.lim - 1) OVER (PARTITION BY k.key ORDER BY x.at) AS last,
             CASE WHEN cardinality(p.slots) > 0 THEN p_window ELSE p_sent_window END AS win
        FROM unnest(p_keys, p_limits, p_gaps) AS k (key, lim, gap)
        JOIN airtable_pacing p USING (key), unnest(p.slots || p.sent) AS x (at)
    )
    SELECT last - win AS lo, at + win AS hi FROM starts WHERE last - at < win
    UNION ALL
    SELECT at - gap, at + gap FROM starts WHERE gap > interval '0'
    ORDER BY lo
  LOOP
    EXIT WHEN v_busy.lo >= v_slot;
    v_slot := greatest(v_slot, v_busy.hi);
  END LOOP;
  UPDATE airtable_pacing
     SET slots = ARRAY(SELECT x FROM unnest(slots || v_slot) AS x WHERE x > v_now - interval '2 seconds' ORDER BY x),
         sent = ARRAY(SELECT x FROM unnest(sent) AS x WHERE x > v_now - interval '2 seconds' ORDER BY x)
   WHERE key = ANY (p_keys);
  RETURN v_slot;
END;
$$;

-- Takes back a start its caller will not use (it woke up too late to leave on time), so a late
-- wake-up does not cost the base one of its requests. One occurrence only: another request may
-- hold an equal start.
CREATE FUNCTION airtable_release_slot(p_keys text[], p_slot timestamptz)
RETURNS void
LANGUAGE sql AS $$
  SELECT airtable_lock_keys(p_keys);
  UPDATE airtable_pacing
     SET slots = slots[:array_position(slots, p_slot) - 1] || slots[array_position(slots, p_slot) + 1:]
   WHERE key = ANY (p_keys) AND p_slot = ANY (slots);
$$;

-- Down Migration

DROP FUNCTION airtable_release_slot(text[], timestamptz);
DROP FUNCTION airtable_reserve_slot(text[], int[], interval[], interval, interval, timestamptz[], timestamptz[]);
DROP FUNCTION airtable_lock_keys(text[]);
-- The previous reservation: after the key's latest start, and its `limit`-th latest a window back.
CREATE FUNCTION airtable_reserve_slot(p_keys text[], p_limits int[], p_window interval)
RETURNS timestamptz
LANGUAGE sql AS $$
  INSERT INTO airtable_pacing (key) SELECT unnest(p_keys) ON CONFLICT (key) DO NOTHING;
  SELECT 1 FROM airtable_pacing WHERE key = ANY (p_keys) ORDER BY key FOR UPDATE;
  WITH next AS (
    SELECT greatest(clock_timestamp(), max(greatest(p.penalty_until, p.slots[cardinality(p.slots)],
                                                    p.slots[cardinality(p.slots) - k.lim + 1] + p_window))) AS slot
      FROM unnest(p_keys, p_limits) AS k (key, lim) JOIN airtable_pacing p USING (key)
  )
  UPDATE airtable_pacing p
     SET slots = (p.slots || next.slot)[greatest(1, cardinality(p.slots) + 2 - k.lim):]
    FROM next, unnest(p_keys, p_limits) AS k (key, lim)
   WHERE p.key = k.key
  RETURNING next.slot;
$$;
ALTER TABLE airtable_pacing DROP COLUMN sent;
ALTER TABLE airtable_pacing SET LOGGED;
