-- Agents outlive the daemon (issue #15): a message derived from a held
-- agent's output carries the spool offset just past the bytes it covers
-- (hold_out for stdout or the terminal, hold_err for stderr), committed in
-- the same transaction as the message. A daemon taking the run up again
-- reads its output from MAX(hold_out) / MAX(hold_err) of the run: nothing
-- stored is read twice, nothing unstored is skipped. NULL: not derived
-- from held output.
ALTER TABLE messages ADD COLUMN hold_out INTEGER;
ALTER TABLE messages ADD COLUMN hold_err INTEGER;
