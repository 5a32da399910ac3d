-- Up Migration

-- The window a start needs now depends on that start alone. Before, one start not known to have
-- left (booked, its request still waiting for its time) gave every start of its key the wider
-- window, so two listings of one base, each booking while the other's request waited, were paced
-- as if nothing had ever left: 5 starts per 1075 ms instead of per 1015 ms.
--
-- A start known to have left is a point: the time it left. A start not known to have left is a
-- span: from its slot to its slot plus (p_window - p_sent_window), the latest it can leave. Every
-- bound below takes the worst end of each span, so the new start keeps its distance from wherever
-- those requests really leave, and all bounds use p_sent_window.
CREATE OR REPLACE FUNCTION airtable_reserve_slot(
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
  v_late interval := greatest(p_window - p_sent_window, interval '0');
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
    WITH spans AS (
      SELECT k.key, k.lim, k.gap, x.at AS earliest, x.at + CASE WHEN x.pending THEN v_late ELSE interval '0' END AS latest
        FROM unnest(p_keys, p_limits, p_gaps) AS k (key, lim, gap)
        JOIN airtable_pacing p USING (key),
        LATERAL (SELECT s, true FROM unnest(p.slots) AS s
                 UNION ALL
                 SELECT s, false FROM unnest(p.sent) AS s) AS x (at, pending)
    ),
    groups AS (
      -- `limit` consecutive starts: the first at its latest, the last at its earliest.
      SELECT gap, latest AS first_latest,
             lead(earliest, lim - 1) OVER (PARTITION BY key ORDER BY earliest, latest) AS last_earliest
        FROM spans
    )
    SELECT last_earliest - p_sent_window AS lo, first_latest + p_sent_window AS hi
      FROM groups WHERE last_earliest - first_latest < p_sent_window
    UNION ALL
    SELECT earliest - gap, earliest + gap FROM spans WHERE gap > interval '0'
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

-- Down Migration

-- The earlier function: the wider window for every start of a key while one has not left.
CREATE OR REPLACE FUNCTION airtable_reserve_slot(
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
