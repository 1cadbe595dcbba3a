-- Indexes for the console's reads (issue 6).

-- A home's last sign of life (motion, or a meter report with water flowing) is one
-- backwards step in this small partial index, instead of a walk through the home's
-- readings. The predicate must match storage/homes_view.py's SIGN_OF_LIFE exactly.
CREATE INDEX readings_sign_of_life ON readings (home_id, ts)
    WHERE motion IS TRUE OR flow_lpm > 0;

-- The dashboard reads the alerts opened in the last weeks, across homes.
CREATE INDEX alerts_opened_at ON alerts (opened_at);
