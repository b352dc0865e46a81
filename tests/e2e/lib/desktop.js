// SPDX-License-Identifier: MIT
// A desktop session's bus for the tray helper's tests (issue #37): a
// private dbus-daemon (Debian's, on a unix socket in a temporary folder),
// a StatusNotifierWatcher (org.kde.StatusNotifierWatcher, as a panel's tray
// host runs it) that keeps the items registered with it, and a
// notification server (org.freedesktop.Notifications, as a desktop runs
// it) that keeps every notification and can invoke an action, as a click
// would: the desktop's two services written for the test with dbus-next.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const dbus = require('dbus-next');

const { Interface, ACCESS_READ } = dbus.interface;

class Watcher extends Interface {
  constructor() {
    super('org.kde.StatusNotifierWatcher');
    this.items = [];
  }

  RegisterStatusNotifierItem(service) {
    if (!this.items.includes(service)) this.items.push(service);
    this.StatusNotifierItemRegistered(service);
  }

  RegisterStatusNotifierHost() {}

  get RegisteredStatusNotifierItems() { return this.items; }
  get IsStatusNotifierHostRegistered() { return true; }
  get ProtocolVersion() { return 0; }
  StatusNotifierItemRegistered(service) { return service; }
  StatusNotifierHostRegistered() {}
}
Watcher.configureMembers({
  methods: {
    RegisterStatusNotifierItem: { inSignature: 's', outSignature: '' },
    RegisterStatusNotifierHost: { inSignature: 's', outSignature: '' },
  },
  properties: {
    RegisteredStatusNotifierItems: { signature: 'as', access: ACCESS_READ },
    IsStatusNotifierHostRegistered: { signature: 'b', access: ACCESS_READ },
    ProtocolVersion: { signature: 'i', access: ACCESS_READ },
  },
  signals: {
    StatusNotifierItemRegistered: { signature: 's' },
    StatusNotifierHostRegistered: { signature: '' },
  },
});

class Notifications extends Interface {
  constructor() {
    super('org.freedesktop.Notifications');
    this.shown = []; // {id, app, summary, body, actions: {key: label}, hints, timeout, at, closed}
    this.next = 1;
  }

  Notify(app, replaces, icon, summary, body, actions, hints, timeout) {
    const id = this.next++;
    const acts = {};
    for (let i = 0; i + 1 < actions.length; i += 2) acts[actions[i]] = actions[i + 1];
    const h = {};
    for (const [k, v] of Object.entries(hints)) h[k] = v.value;
    this.shown.push({ id, app, icon, summary, body, actions: acts, hints: h, timeout, at: Date.now(), closed: false });
    return id;
  }

  CloseNotification(id) {
    const n = this.shown.find((x) => x.id === id);
    if (n && !n.closed) {
      n.closed = true;
      this.NotificationClosed(id, 3);
    }
  }

  GetCapabilities() { return ['actions', 'body', 'persistence']; }
  GetServerInformation() { return ['agentd-tests', 'agentd', '1', '1.2']; }
  ActionInvoked(id, key) { return [id, key]; }
  NotificationClosed(id, reason) { return [id, reason]; }
}
Notifications.configureMembers({
  methods: {
    Notify: { inSignature: 'susssasa{sv}i', outSignature: 'u' },
    CloseNotification: { inSignature: 'u', outSignature: '' },
    GetCapabilities: { inSignature: '', outSignature: 'as' },
    GetServerInformation: { inSignature: '', outSignature: 'ssss' },
  },
  signals: {
    ActionInvoked: { signature: 'us' },
    NotificationClosed: { signature: 'uu' },
  },
});

// Starts the bus and both services. Resolves {address, watcher,
// notifications, bus (a client connection), close()}.
async function startDesktop() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentd-bus-'));
  const sock = path.join(dir, 'bus');
  fs.writeFileSync(path.join(dir, 'session.conf'), `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`);
  const daemon = spawn('dbus-daemon', ['--config-file', path.join(dir, 'session.conf'), '--nofork', '--print-address=1'],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  const address = await new Promise((resolve, reject) => {
    let out = '';
    daemon.stdout.setEncoding('utf8').on('data', (s) => {
      out += s;
      if (out.includes('\n')) resolve(out.trim());
    });
    daemon.on('exit', (code) => reject(new Error(`dbus-daemon exited ${code}`)));
  });
  const services = dbus.sessionBus({ busAddress: address });
  const watcher = new Watcher();
  const notifications = new Notifications();
  await services.requestName('org.kde.StatusNotifierWatcher', 0);
  services.export('/StatusNotifierWatcher', watcher);
  await services.requestName('org.freedesktop.Notifications', 0);
  services.export('/org/freedesktop/Notifications', notifications);
  const bus = dbus.sessionBus({ busAddress: address });
  return {
    address,
    watcher,
    notifications,
    bus,
    close: async () => {
      bus.disconnect();
      services.disconnect();
      daemon.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startDesktop, Variant: dbus.Variant };
