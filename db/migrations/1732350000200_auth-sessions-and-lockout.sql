-- Up Migration

-- One row per login (a refresh-token family): access tokens name it (`sid`), and every request
-- looks it up by primary key, so logging out, or a reused refresh token revoking its family,
-- ends the login's access tokens at once in every API process. Deleting the user deletes it.
CREATE TABLE login_sessions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX login_sessions_user_idx ON login_sessions (user_id);

-- The logins that exist already, so their refresh tokens keep working (a family is revoked when
-- any of its tokens is: revocation marks them all).
INSERT INTO login_sessions (id, user_id, created_at, revoked_at)
SELECT family_id, (array_agg(user_id))[1], min(created_at), max(revoked_at)
  FROM refresh_tokens
 GROUP BY family_id;

-- Login attempts per email (by SHA-256 digest of the normalized address, known or not, so the
-- table says nothing about which accounts exist), shared by every API process: after the
-- threshold, each attempt locks the email for an exponentially growing time; a success deletes
-- the row. Rows idle for long are swept by the API.
CREATE TABLE login_throttle (
  email_digest text PRIMARY KEY,
  attempts integer NOT NULL,
  last_attempt_at timestamptz NOT NULL,
  locked_until timestamptz
);
CREATE INDEX login_throttle_last_attempt_idx ON login_throttle (last_attempt_at);

-- Counts one attempt for the email unless it is locked, atomically (concurrent attempts in any
-- process queue on the row). Returns NULL when the attempt may go ahead, else the end of the
-- lockout (the refused attempt is not counted). Attempts older than p_memory are forgotten.
CREATE FUNCTION login_attempt_begin(
  p_digest text,
  p_threshold integer,
  p_base_seconds double precision,
  p_max_seconds double precision,
  p_memory_seconds double precision
)
RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz := clock_timestamp();
  v_row login_throttle%ROWTYPE;
  v_attempts integer;
BEGIN
  INSERT INTO login_throttle (email_digest, attempts, last_attempt_at)
  VALUES (p_digest, 0, v_now)
  ON CONFLICT (email_digest) DO NOTHING;
  SELECT * INTO v_row FROM login_throttle WHERE email_digest = p_digest FOR UPDATE;
  v_now := clock_timestamp();
  IF v_row.locked_until > v_now THEN
    RETURN v_row.locked_until;
  END IF;
  v_attempts := CASE
    WHEN v_row.last_attempt_at < v_now - make_interval(secs => p_memory_seconds) THEN 1
    ELSE v_row.attempts + 1
  END;
  UPDATE login_throttle
     SET attempts = v_attempts,
         last_attempt_at = v_now,
         locked_until = CASE
           WHEN v_attempts >= p_threshold THEN
             v_now + make_interval(secs => least(p_max_seconds,
                                                 p_base_seconds * power(2, least(v_attempts - p_threshold, 40))))
         END
   WHERE email_digest = p_digest;
  RETURN NULL;
END;
$$;

-- Down Migration

DROP FUNCTION login_attempt_begin(text, integer, double precision, double precision, double precision);
DROP TABLE login_throttle;
DROP TABLE login_sessions;
