-- The auto_save setting never did anything (issue #32): nothing read it,
-- and a dashboard switch for it promised what no code kept. It goes.
DELETE FROM settings WHERE key = 'auto_save';
