// The saved theme, applied before the first paint (a separate file: the
// dashboard's Content-Security-Policy allows no inline script).
try {
  var t = localStorage.getItem('agentd.theme');
  if (t === 'light' || (t === 'system' && matchMedia('(prefers-color-scheme: light)').matches))
    document.documentElement.dataset.theme = 'light';
} catch (e) {}
