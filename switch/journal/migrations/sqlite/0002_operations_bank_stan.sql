-- Late responses are matched by bank + STAN (+ RRN), newest first: a STAN
-- wraps every 999999 operations, so the newest match is the live one.
CREATE INDEX operations_bank_stan ON operations (bank, stan, created_us);
