-- SPDX-License-Identifier: MIT
-- 3060: a run's lease carries an epoch, its fencing token (issue #77). It is
-- 1 when a plane starts the run (and takes its lease at once) and goes up by
-- one at every takeover, in the transaction that wins the lease. A plane
-- sends it with every run-scoped message to the run's node, and the node
-- refuses a lower one than it has seen; the run's rows a plane writes while
-- it runs (usage, the CLI's version, the end) are refused while another
-- plane holds a live lease. Kept on the run (not on its lease row, which goes
-- when the run ends) so a late word about an ended run is judged too.
ALTER TABLE runs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
