// SPDX-License-Identifier: MIT
// A worktree whose branch a forge can take a pull request from, for the
// pull request's browser tests: the GitHub mock started (closed when the
// test ends), a local bare repository as the remote (acme/widgets), the
// owner's forge_hosts setting mapping it to the mock, a workspace, a
// worktree on a new branch `name` with one commit (`<name>.js`), and a
// command agent in it. With token, the org's GitHub token is stored first.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { apiOk, git, makeRepo, tmpDir } from './harness.mjs';

const github = createRequire(import.meta.url)('../../fixtures/mock-github.js');

// { m: the mock, bare, ws, wt, agentId }
export async function forgeWorktree(t, url, { token, mockToken, name, agent, repoName }) {
  const ok = (method, p, body) => apiOk(url, method, p, body);
  const m = await github.start({ token: mockToken, repos: ['acme/widgets'] });
  t.after(() => m.close());
  const forge = fs.realpathSync(tmpDir('agentd-forge-'));
  const bare = path.join(forge, 'acme', 'widgets.git');
  fs.mkdirSync(path.dirname(bare), { recursive: true });
  git(forge, 'init', '-q', '--bare', bare);
  const repo = makeRepo();
  git(repo, 'remote', 'add', 'origin', bare);
  await ok('PATCH', '/api/settings', { forge_hosts: { [forge + '/']: { kind: 'github', apiBase: m.url } } });
  if (token) await ok('PUT', '/api/credentials/github', { apiKey: token });
  const ws = await ok('POST', '/api/workspaces', { path: repo, name: repoName });
  const wt = await ok('POST', '/api/worktrees', { workspaceId: ws.id, name, createBranch: true });
  fs.writeFileSync(path.join(wt.path, `${name}.js`), `export const ${name} = 1;\n`);
  await ok('POST', `/api/worktrees/${wt.id}/commit`, { message: `add the ${name}`, all: true });
  const a = await ok('POST', '/api/agents', { worktreeId: wt.id, name: agent, executor: 'command', command: ['true'] });
  return { m, bare, ws, wt, agentId: (a.agent || a).id };
}
