-- The clearing row a payment's sale matched, written by reconciliation with
-- recon_state ("<bank>/<settlement day>/<line>"); '' until then.
ALTER TABLE payments ADD COLUMN recon_ref TEXT NOT NULL DEFAULT '';
