// The workbench's own navigation (issue #18): Chats, Projects and
// Definitions share the top bar's Chats tab.
export function WorkbenchNav({ at }: { at: 'chats' | 'projects' | 'definitions' }) {
  const items: [typeof at, string][] = [
    ['chats', 'Chats'],
    ['projects', 'Projects'],
    ['definitions', 'Definitions'],
  ];
  return (
    <nav class="subnav" aria-label="Workbench">
      {items.map(([k, label]) => (
        <a key={k} href={`#/${k}`} class={`tab${k === at ? ' active' : ''}`} aria-current={k === at ? 'page' : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
}
