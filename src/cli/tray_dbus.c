/* SPDX-License-Identifier: MIT */
/*
 * The tray helper's bus side, with sd-bus: a StatusNotifierItem
 * (org.kde.StatusNotifierItem at /StatusNotifierItem, registered with the
 * org.kde.StatusNotifierWatcher now and whenever one appears) whose status
 * is NeedsAttention while agents need the user and whose tooltip and title
 * say how many; its menu (com.canonical.dbusmenu at /MenuBar): each agent
 * that needs the user (opens its page), Open dashboard, Pause all, Quit;
 * and desktop notifications (org.freedesktop.Notifications: Notify,
 * CloseNotification, and the ActionInvoked and NotificationClosed
 * signals handed to tray.c). No GTK, no toolkit: the desktop's own tray
 * host and notification server draw them.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define ITEM_PATH "/StatusNotifierItem"
#define ITEM_IFACE "org.kde.StatusNotifierItem"
#define MENU_PATH "/MenuBar"
#define MENU_IFACE "com.canonical.dbusmenu"
#define WATCHER "org.kde.StatusNotifierWatcher"
#define NOTIFY "org.freedesktop.Notifications"
#define NOTIFY_PATH "/org/freedesktop/Notifications"

/* menu item ids: 0 the root, agents from ID_AGENT */
enum { ID_ROOT = 0, ID_NONE, ID_SEP1, ID_OPEN, ID_PAUSE, ID_SEP2, ID_QUIT, ID_AGENT = 100 };

struct ad_tray_bus {
    ad_tray_t *t;
    sd_bus *bus;
    sd_bus_slot *item, *menu, *watch, *action, *closed;
    char name[64]; /* org.kde.StatusNotifierItem-PID-1 */
    uint32_t revision;
};

/* ---- the item ------------------------------------------------------------------ */

static size_t count(ad_tray_bus_t *b)
{
    return json_array_size(ad_tray_needs(b->t));
}

static const char *status_of(ad_tray_bus_t *b)
{
    return count(b) > 0 ? "NeedsAttention" : ad_tray_up(b->t) ? "Active" : "Passive";
}

/* "agentd: 2 agents need you" (or that it is not running). */
static void title_of(ad_tray_bus_t *b, char *out, size_t outsz)
{
    size_t n = count(b);
    if (!ad_tray_up(b->t)) {
        snprintf(out, outsz, "agentd: not running");
    } else if (n == 0) {
        snprintf(out, outsz, "agentd: no agent needs you");
    } else {
        snprintf(out, outsz, "agentd: %zu agent%s need%s you", n, n == 1 ? "" : "s",
                 n == 1 ? "s" : "");
    }
}

static int prop_get(sd_bus *bus, const char *path, const char *iface, const char *prop,
                    sd_bus_message *reply, void *ud, sd_bus_error *err)
{
    ad_tray_bus_t *b = ud;
    AD_UNUSED(bus);
    AD_UNUSED(path);
    AD_UNUSED(iface);
    AD_UNUSED(err);
    char title[128];
    title_of(b, title, sizeof(title));
    if (strcmp(prop, "Category") == 0) {
        return sd_bus_message_append(reply, "s", "ApplicationStatus");
    }
    if (strcmp(prop, "Id") == 0) {
        return sd_bus_message_append(reply, "s", "agentd");
    }
    if (strcmp(prop, "Title") == 0) {
        return sd_bus_message_append(reply, "s", title);
    }
    if (strcmp(prop, "Status") == 0) {
        return sd_bus_message_append(reply, "s", status_of(b));
    }
    if (strcmp(prop, "IconName") == 0) {
        return sd_bus_message_append(reply, "s", "utilities-terminal");
    }
    if (strcmp(prop, "AttentionIconName") == 0) {
        return sd_bus_message_append(reply, "s", "dialog-warning");
    }
    if (strcmp(prop, "ItemIsMenu") == 0) {
        return sd_bus_message_append(reply, "b", 0);
    }
    if (strcmp(prop, "Menu") == 0) {
        return sd_bus_message_append(reply, "o", MENU_PATH);
    }
    if (strcmp(prop, "ToolTip") == 0) {
        /* (icon name, icon pixmaps, title, text) */
        char text[1024] = "";
        size_t o = 0, i;
        json_t *a;
        json_array_foreach(ad_tray_needs(b->t), i, a)
        {
            int w = snprintf(text + o, sizeof(text) - o, "%s%s: %s", o > 0 ? "\n" : "",
                             json_string_value(json_object_get(a, "name")),
                             json_string_value(json_object_get(a, "why")));
            o = w > 0 && (size_t)w < sizeof(text) - o ? o + (size_t)w : o;
        }
        return sd_bus_message_append(reply, "(sa(iiay)ss)", "", 0, title, text);
    }
    return -ENOENT;
}

static int m_activate(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    ad_tray_bus_t *b = ud;
    AD_UNUSED(err);
    ad_tray_open(b->t, NULL);
    return sd_bus_reply_method_return(m, "");
}

static int m_noop(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    AD_UNUSED(ud);
    AD_UNUSED(err);
    return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable item_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Category", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Id", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Title", "s", prop_get, 0, 0),
    SD_BUS_PROPERTY("Status", "s", prop_get, 0, 0),
    SD_BUS_PROPERTY("IconName", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("AttentionIconName", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("ToolTip", "(sa(iiay)ss)", prop_get, 0, 0),
    SD_BUS_PROPERTY("ItemIsMenu", "b", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Menu", "o", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_METHOD("Activate", "ii", "", m_activate, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("SecondaryActivate", "ii", "", m_activate, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("ContextMenu", "ii", "", m_noop, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Scroll", "is", "", m_noop, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("NewTitle", "", 0),
    SD_BUS_SIGNAL("NewIcon", "", 0),
    SD_BUS_SIGNAL("NewAttentionIcon", "", 0),
    SD_BUS_SIGNAL("NewToolTip", "", 0),
    SD_BUS_SIGNAL("NewStatus", "s", 0),
    SD_BUS_VTABLE_END};

/* ---- the menu ------------------------------------------------------------------ */

/* One {sv} entry with a string or a boolean. */
static int prop_s(sd_bus_message *m, const char *k, const char *v)
{
    int r = sd_bus_message_open_container(m, 'e', "sv");
    r = r < 0 ? r : sd_bus_message_append(m, "s", k);
    r = r < 0 ? r : sd_bus_message_append(m, "v", "s", v);
    return r < 0 ? r : sd_bus_message_close_container(m);
}

static int prop_b(sd_bus_message *m, const char *k, int v)
{
    int r = sd_bus_message_open_container(m, 'e', "sv");
    r = r < 0 ? r : sd_bus_message_append(m, "s", k);
    r = r < 0 ? r : sd_bus_message_append(m, "v", "b", v);
    return r < 0 ? r : sd_bus_message_close_container(m);
}

/* An item's properties: the a{sv} of id. */
static int item_props(ad_tray_bus_t *b, sd_bus_message *m, int id)
{
    int r = sd_bus_message_open_container(m, 'a', "{sv}");
    json_t *needs = ad_tray_needs(b->t);
    char label[300];
    if (id == ID_ROOT) {
        r = r < 0 ? r : prop_s(m, "children-display", "submenu");
    } else if (id == ID_SEP1 || id == ID_SEP2) {
        r = r < 0 ? r : prop_s(m, "type", "separator");
    } else if (id == ID_NONE) {
        title_of(b, label, sizeof(label));
        r = r < 0 ? r : prop_s(m, "label", label + strlen("agentd: "));
        r = r < 0 ? r : prop_b(m, "enabled", 0);
    } else if (id == ID_OPEN || id == ID_PAUSE || id == ID_QUIT) {
        r = r < 0 ? r
                  : prop_s(m, "label",
                           id == ID_OPEN    ? "Open dashboard"
                           : id == ID_PAUSE ? "Pause all"
                                            : "Quit");
        r = r < 0 ? r : prop_b(m, "enabled", id == ID_QUIT || ad_tray_up(b->t));
    } else if (id >= ID_AGENT && (size_t)(id - ID_AGENT) < json_array_size(needs)) {
        json_t *a = json_array_get(needs, (size_t)(id - ID_AGENT));
        const char *why = json_string_value(json_object_get(a, "why"));
        const char *tool = json_string_value(json_object_get(a, "tool"));
        snprintf(label, sizeof(label), "%s: %s%s%s", json_string_value(json_object_get(a, "name")),
                 why, tool != NULL && tool[0] ? " " : "", tool != NULL ? tool : "");
        r = r < 0 ? r : prop_s(m, "label", label);
    }
    return r < 0 ? r : sd_bus_message_close_container(m);
}

/* The ids under the root, in order. */
static size_t menu_ids(ad_tray_bus_t *b, int *ids, size_t max)
{
    size_t n = 0, agents = json_array_size(ad_tray_needs(b->t));
    if (agents == 0) {
        ids[n++] = ID_NONE;
    }
    for (size_t i = 0; i < agents && n + 6 < max; i++) {
        ids[n++] = ID_AGENT + (int)i;
    }
    ids[n++] = ID_SEP1;
    ids[n++] = ID_OPEN;
    ids[n++] = ID_PAUSE;
    ids[n++] = ID_SEP2;
    ids[n++] = ID_QUIT;
    return n;
}

static bool id_known(ad_tray_bus_t *b, int id)
{
    int ids[64];
    size_t n = menu_ids(b, ids, AD_ARRAY_LEN(ids));
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id) {
            return true;
        }
    }
    return id == ID_ROOT;
}

/* (ia{sv}av): id, its properties, its children (the root's only). */
static int layout_node(ad_tray_bus_t *b, sd_bus_message *m, int id, bool children)
{
    int r = sd_bus_message_open_container(m, 'r', "ia{sv}av");
    r = r < 0 ? r : sd_bus_message_append(m, "i", id);
    r = r < 0 ? r : item_props(b, m, id);
    r = r < 0 ? r : sd_bus_message_open_container(m, 'a', "v");
    if (children) {
        int ids[64];
        size_t n = menu_ids(b, ids, AD_ARRAY_LEN(ids));
        for (size_t i = 0; i < n && r >= 0; i++) {
            r = sd_bus_message_open_container(m, 'v', "(ia{sv}av)");
            r = r < 0 ? r : layout_node(b, m, ids[i], false);
            r = r < 0 ? r : sd_bus_message_close_container(m);
        }
    }
    r = r < 0 ? r : sd_bus_message_close_container(m);
    return r < 0 ? r : sd_bus_message_close_container(m);
}

static int m_get_layout(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    ad_tray_bus_t *b = ud;
    int32_t parent, depth;
    int r = sd_bus_message_read(m, "ii", &parent, &depth);
    if (r < 0) {
        return r;
    }
    if (!id_known(b, parent)) {
        return sd_bus_error_set(err, SD_BUS_ERROR_INVALID_ARGS, "no such menu item");
    }
    sd_bus_message *reply = NULL;
    r = sd_bus_message_new_method_return(m, &reply);
    r = r < 0 ? r : sd_bus_message_append(reply, "u", b->revision);
    r = r < 0 ? r : layout_node(b, reply, parent, parent == ID_ROOT && depth != 0);
    r = r < 0 ? r : sd_bus_send(NULL, reply, NULL);
    sd_bus_message_unref(reply);
    return r;
}

static int m_group_props(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    ad_tray_bus_t *b = ud;
    AD_UNUSED(err);
    int ids[64], want[64];
    size_t n = 0, nw = 0;
    int r = sd_bus_message_enter_container(m, 'a', "i");
    int32_t id;
    while (r >= 0 && (r = sd_bus_message_read(m, "i", &id)) > 0) {
        if (nw < AD_ARRAY_LEN(want)) {
            want[nw++] = id;
        }
    }
    if (r < 0) {
        return r;
    }
    sd_bus_message_exit_container(m);
    if (nw == 0) { /* none named: every item */
        n = menu_ids(b, ids, AD_ARRAY_LEN(ids));
    } else {
        for (size_t i = 0; i < nw; i++) {
            if (id_known(b, want[i])) {
                ids[n++] = want[i];
            }
        }
    }
    sd_bus_message *reply = NULL;
    r = sd_bus_message_new_method_return(m, &reply);
    r = r < 0 ? r : sd_bus_message_open_container(reply, 'a', "(ia{sv})");
    for (size_t i = 0; i < n && r >= 0; i++) {
        r = sd_bus_message_open_container(reply, 'r', "ia{sv}");
        r = r < 0 ? r : sd_bus_message_append(reply, "i", ids[i]);
        r = r < 0 ? r : item_props(b, reply, ids[i]);
        r = r < 0 ? r : sd_bus_message_close_container(reply);
    }
    r = r < 0 ? r : sd_bus_message_close_container(reply);
    r = r < 0 ? r : sd_bus_send(NULL, reply, NULL);
    sd_bus_message_unref(reply);
    return r;
}

/* An item was clicked. */
static void clicked(ad_tray_bus_t *b, int id)
{
    json_t *needs = ad_tray_needs(b->t);
    if (id == ID_OPEN) {
        ad_tray_open(b->t, NULL);
    } else if (id == ID_PAUSE) {
        ad_tray_pause_all(b->t);
    } else if (id == ID_QUIT) {
        ad_tray_quit(b->t);
    } else if (id >= ID_AGENT && (size_t)(id - ID_AGENT) < json_array_size(needs)) {
        json_t *a = json_array_get(needs, (size_t)(id - ID_AGENT));
        ad_tray_open(b->t, json_string_value(json_object_get(a, "id")));
    }
}

static int m_event(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    ad_tray_bus_t *b = ud;
    int32_t id;
    const char *what;
    int r = sd_bus_message_read(m, "is", &id, &what);
    if (r < 0) {
        return r;
    }
    if (!id_known(b, id)) {
        return sd_bus_error_set(err, SD_BUS_ERROR_INVALID_ARGS, "no such menu item");
    }
    if (strcmp(what, "clicked") == 0) {
        clicked(b, id);
    }
    return sd_bus_reply_method_return(m, "");
}

static int m_event_group(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    ad_tray_bus_t *b = ud;
    AD_UNUSED(err);
    int bad[64];
    size_t nbad = 0;
    int r = sd_bus_message_enter_container(m, 'a', "(isvu)");
    while (r >= 0) {
        int32_t id;
        const char *what;
        uint32_t ts;
        r = sd_bus_message_enter_container(m, 'r', "isvu");
        if (r <= 0) {
            break;
        }
        r = sd_bus_message_read(m, "is", &id, &what);
        r = r < 0 ? r : sd_bus_message_skip(m, "v");
        r = r < 0 ? r : sd_bus_message_read(m, "u", &ts);
        r = r < 0 ? r : sd_bus_message_exit_container(m);
        if (r >= 0 && !id_known(b, id) && nbad < AD_ARRAY_LEN(bad)) {
            bad[nbad++] = id;
        } else if (r >= 0 && strcmp(what, "clicked") == 0) {
            clicked(b, id);
        }
    }
    if (r < 0) {
        return r;
    }
    sd_bus_message *reply = NULL;
    r = sd_bus_message_new_method_return(m, &reply);
    r = r < 0 ? r : sd_bus_message_append_array(reply, 'i', bad, nbad * sizeof(int));
    r = r < 0 ? r : sd_bus_send(NULL, reply, NULL);
    sd_bus_message_unref(reply);
    return r;
}

static int m_about_to_show(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    AD_UNUSED(ud);
    AD_UNUSED(err);
    return sd_bus_reply_method_return(m, "b", 0);
}

static int m_about_to_show_group(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    AD_UNUSED(ud);
    AD_UNUSED(err);
    return sd_bus_reply_method_return(m, "aiai", 0, 0);
}

static int m_get_property(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    ad_tray_bus_t *b = ud;
    int32_t id;
    const char *name;
    int r = sd_bus_message_read(m, "is", &id, &name);
    if (r < 0) {
        return r;
    }
    json_t *needs = ad_tray_needs(b->t);
    char label[300];
    if (strcmp(name, "label") != 0 || !id_known(b, id)) {
        return sd_bus_error_set(err, SD_BUS_ERROR_INVALID_ARGS, "no such property");
    }
    if (id >= ID_AGENT) {
        json_t *a = json_array_get(needs, (size_t)(id - ID_AGENT));
        snprintf(label, sizeof(label), "%s", json_string_value(json_object_get(a, "name")));
    } else {
        snprintf(label, sizeof(label), "%s",
                 id == ID_OPEN    ? "Open dashboard"
                 : id == ID_PAUSE ? "Pause all"
                 : id == ID_QUIT  ? "Quit"
                                  : "");
    }
    return sd_bus_reply_method_return(m, "v", "s", label);
}

static int menu_prop(sd_bus *bus, const char *path, const char *iface, const char *prop,
                     sd_bus_message *reply, void *ud, sd_bus_error *err)
{
    AD_UNUSED(bus);
    AD_UNUSED(path);
    AD_UNUSED(iface);
    AD_UNUSED(ud);
    AD_UNUSED(err);
    if (strcmp(prop, "Version") == 0) {
        return sd_bus_message_append(reply, "u", 3);
    }
    if (strcmp(prop, "TextDirection") == 0) {
        return sd_bus_message_append(reply, "s", "ltr");
    }
    if (strcmp(prop, "Status") == 0) {
        return sd_bus_message_append(reply, "s", "normal");
    }
    return sd_bus_message_append(reply, "as", 0); /* IconThemePath */
}

static const sd_bus_vtable menu_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "u", menu_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("TextDirection", "s", menu_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Status", "s", menu_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("IconThemePath", "as", menu_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_METHOD("GetLayout", "iias", "u(ia{sv}av)", m_get_layout, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("GetGroupProperties", "aias", "a(ia{sv})", m_group_props,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("GetProperty", "is", "v", m_get_property, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Event", "isvu", "", m_event, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("EventGroup", "a(isvu)", "ai", m_event_group, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("AboutToShow", "i", "b", m_about_to_show, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("AboutToShowGroup", "ai", "aiai", m_about_to_show_group,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("ItemsPropertiesUpdated", "a(ia{sv})a(ias)", 0),
    SD_BUS_SIGNAL("LayoutUpdated", "ui", 0),
    SD_BUS_SIGNAL("ItemActivationRequested", "iu", 0),
    SD_BUS_VTABLE_END};

/* ---- the watcher and the notification server ------------------------------------ */

static void register_item(ad_tray_bus_t *b)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    /* none yet is fine: NameOwnerChanged says when one comes */
    sd_bus_call_method(b->bus, WATCHER, "/StatusNotifierWatcher", WATCHER,
                       "RegisterStatusNotifierItem", &e, NULL, "s", b->name);
    sd_bus_error_free(&e);
}

static int on_owner_changed(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    ad_tray_bus_t *b = ud;
    AD_UNUSED(err);
    const char *name, *old, *now;
    if (sd_bus_message_read(m, "sss", &name, &old, &now) >= 0 && strcmp(name, WATCHER) == 0 &&
        now[0] != '\0') {
        register_item(b);
    }
    return 0;
}

/* Whether m comes from the notification server (the owner of its name
 * now): anyone else on the bus could send an ActionInvoked too. */
static bool from_server(ad_tray_bus_t *b, sd_bus_message *m)
{
    sd_bus_creds *c = NULL;
    const char *owner = NULL, *sender = sd_bus_message_get_sender(m);
    bool ok = sender != NULL &&
              sd_bus_get_name_creds(b->bus, NOTIFY, SD_BUS_CREDS_UNIQUE_NAME, &c) >= 0 &&
              sd_bus_creds_get_unique_name(c, &owner) >= 0 && strcmp(owner, sender) == 0;
    sd_bus_creds_unref(c);
    return ok;
}

static int on_action(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    ad_tray_bus_t *b = ud;
    AD_UNUSED(err);
    uint32_t id;
    const char *key;
    if (from_server(b, m) && sd_bus_message_read(m, "us", &id, &key) >= 0) {
        ad_tray_note_action(b->t, id, key);
    }
    return 0;
}

static int on_closed(sd_bus_message *m, void *ud, sd_bus_error *err)
{
    ad_tray_bus_t *b = ud;
    AD_UNUSED(err);
    uint32_t id, reason;
    if (from_server(b, m) && sd_bus_message_read(m, "uu", &id, &reason) >= 0) {
        ad_tray_note_closed(b->t, id);
    }
    return 0;
}

uint32_t ad_tray_bus_notify(ad_tray_bus_t *b, const char *summary, const char *body,
                            const char *const *actions, size_t n, int urgency, int timeout_ms)
{
    sd_bus_message *m = NULL, *reply = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    uint32_t id = 0;
    int r = sd_bus_message_new_method_call(b->bus, &m, NOTIFY, NOTIFY_PATH, NOTIFY, "Notify");
    r = r < 0 ? r
              : sd_bus_message_append(m, "susss", "agentd", 0, "dialog-information", summary, body);
    r = r < 0 ? r : sd_bus_message_open_container(m, 'a', "s");
    for (size_t i = 0; i < n && r >= 0; i++) {
        r = sd_bus_message_append(m, "s", actions[i]);
    }
    r = r < 0 ? r : sd_bus_message_close_container(m);
    r = r < 0 ? r
              : sd_bus_message_append(m, "a{sv}", 2, "urgency", "y", (uint8_t)urgency,
                                      "desktop-entry", "s", "agentd");
    r = r < 0 ? r : sd_bus_message_append(m, "i", timeout_ms);
    r = r < 0 ? r : sd_bus_call(b->bus, m, 5000000, &e, &reply);
    if (r >= 0 && sd_bus_message_read(reply, "u", &id) < 0) {
        id = 0;
    }
    sd_bus_error_free(&e);
    sd_bus_message_unref(m);
    sd_bus_message_unref(reply);
    return id;
}

void ad_tray_bus_close_note(ad_tray_bus_t *b, uint32_t nid)
{
    sd_bus_call_method_async(b->bus, NULL, NOTIFY, NOTIFY_PATH, NOTIFY, "CloseNotification", NULL,
                             NULL, "u", nid);
}

void ad_tray_bus_changed(ad_tray_bus_t *b)
{
    if (b == NULL) {
        return;
    }
    b->revision++;
    sd_bus_emit_signal(b->bus, ITEM_PATH, ITEM_IFACE, "NewStatus", "s", status_of(b));
    sd_bus_emit_signal(b->bus, ITEM_PATH, ITEM_IFACE, "NewTitle", "");
    sd_bus_emit_signal(b->bus, ITEM_PATH, ITEM_IFACE, "NewToolTip", "");
    sd_bus_emit_signal(b->bus, ITEM_PATH, ITEM_IFACE, "NewIcon", "");
    sd_bus_emit_signal(b->bus, MENU_PATH, MENU_IFACE, "LayoutUpdated", "ui", b->revision, 0);
}

int ad_tray_bus_open(ad_tray_t *t, void *event, ad_tray_bus_t **out, char *err, size_t errsz)
{
    ad_tray_bus_t *b = ad_xcalloc(1, sizeof(*b));
    b->t = t;
    b->revision = 1;
    snprintf(b->name, sizeof(b->name), "org.kde.StatusNotifierItem-%ld-1", (long)getpid());
    int r = sd_bus_open_user(&b->bus);
    if (r < 0) {
        snprintf(err, errsz, "no session bus (%s): the tray needs a desktop session", strerror(-r));
        ad_tray_bus_free(b);
        return r;
    }
    r = sd_bus_attach_event(b->bus, event, 0);
    r = r < 0 ? r
              : sd_bus_add_object_vtable(b->bus, &b->item, ITEM_PATH, ITEM_IFACE, item_vtable, b);
    r = r < 0 ? r
              : sd_bus_add_object_vtable(b->bus, &b->menu, MENU_PATH, MENU_IFACE, menu_vtable, b);
    r = r < 0 ? r
              : sd_bus_match_signal(b->bus, &b->watch, "org.freedesktop.DBus",
                                    "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                    "NameOwnerChanged", on_owner_changed, b);
    r = r < 0 ? r
              : sd_bus_match_signal(b->bus, &b->action, NULL, NOTIFY_PATH, NOTIFY, "ActionInvoked",
                                    on_action, b);
    r = r < 0 ? r
              : sd_bus_match_signal(b->bus, &b->closed, NULL, NOTIFY_PATH, NOTIFY,
                                    "NotificationClosed", on_closed, b);
    r = r < 0 ? r : sd_bus_request_name(b->bus, b->name, 0);
    if (r < 0) {
        snprintf(err, errsz, "cannot set up on the session bus: %s", strerror(-r));
        ad_tray_bus_free(b);
        return r;
    }
    register_item(b);
    *out = b;
    return 0;
}

void ad_tray_bus_free(ad_tray_bus_t *b)
{
    if (b == NULL) {
        return;
    }
    sd_bus_slot_unref(b->item);
    sd_bus_slot_unref(b->menu);
    sd_bus_slot_unref(b->watch);
    sd_bus_slot_unref(b->action);
    sd_bus_slot_unref(b->closed);
    sd_bus_flush_close_unref(b->bus);
    free(b);
}
