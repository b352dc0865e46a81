-- SPDX-License-Identifier: MIT
-- 2911: auto_save back, with a meaning (issue #74; 2321 dropped it when
-- nothing read it). On, the dashboard keeps what is half-typed (a message
-- to an agent, a chat's) and the sidebar's layout in the browser as it is
-- typed, so a reload or a crash of the tab loses none of it; off, nothing
-- is kept and what was kept is wiped. The seed's own default: on.
INSERT INTO settings (key, value, type, description, updated_at) VALUES
    ('auto_save', 'true', 'boolean',
     'keep half-typed messages and the layout in this browser as you type (they survive a reload)', 0);
