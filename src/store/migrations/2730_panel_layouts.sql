-- Saved panel layouts of the training workspace (issue #35): per
-- organisation and scope ('' for the runs of every workspace, else a
-- workspace id) the panels as JSON, checked by src/hparam/layout.c before
-- they are written, so they follow the user from browser to browser.
CREATE TABLE panel_layouts (
    org_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    layout TEXT NOT NULL CHECK (json_valid(layout)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, scope)
) WITHOUT ROWID;
