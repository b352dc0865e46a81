-- Events live in the event log (segment files in <data dir>/events, see
-- src/store/evlog.c) from now on. The rows an older agentd kept here are
-- moved into the log at the next start, which then drops this table.
ALTER TABLE events RENAME TO events_before_log;
