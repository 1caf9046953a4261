// The lansync dashboard page: folders, peers, the conflict inbox and a history browser, refreshed
// every 1.5 s (slower when the agent is slow to answer) from the agent's JSON API (src/dashboard/server.ts). The access token arrives in the
// URL fragment (never sent to a server), is kept in this tab's sessionStorage (scoped to this
// origin, port included) and sent as `Authorization: Bearer`. Data is only ever set as text, never
// parsed as HTML.
const REFRESH_MS = 1500
const TOKEN_KEY = 'lansync-dashboard-token'

const token = takeToken()
const view = { tab: 'folders', status: undefined, conflicts: [], shown: {}, history: { folder: '', filter: '', path: '' } }

function takeToken () {
  const match = /(?:^#|&)token=([A-Za-z0-9_-]+)/.exec(location.hash)
  if (match !== null) {
    sessionStorage.setItem(TOKEN_KEY, match[1])
    history.replaceState(null, '', location.pathname + location.search) // out of the address bar
  }
  return sessionStorage.getItem(TOKEN_KEY)
}

// ---- talking to the agent ----

class ApiError extends Error {
  constructor (status, code, message) { super(message); this.status = status; this.code = code }
}

async function api (method, path, body) {
  const headers = { Authorization: `Bearer ${token ?? ''}` }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
  const value = await res.json().catch(() => null)
  if (!res.ok) throw new ApiError(res.status, value?.error?.code ?? 'HTTP_' + res.status, value?.error?.message ?? res.statusText)
  return value
}

// ---- small DOM helpers (text only) ----

function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    if (key === 'class') node.className = value
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value)
    else node.setAttribute(key, value === true ? '' : String(value))
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child))
  return node
}

function table (headings, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, headings.map(h => el('th', { scope: 'col' }, h)))), el('tbody', {}, rows))
}

/** Replaces a section's content only when what it shows changed (so a click never lands on a node being replaced). */
function show (id, data, render) {
  const key = JSON.stringify(data)
  if (view.shown[id] === key) return
  view.shown[id] = key
  document.getElementById(id).replaceChildren(...[render()].flat().filter(n => n !== null && n !== undefined))
}

function formatBytes (n) {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024; let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

function formatTime (iso) {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString()
}

function notice (text) {
  document.getElementById('notice').textContent = text
  document.getElementById('problem').hidden = true
}

/** Shows what went wrong; a refresh that works clears only what an earlier refresh showed. */
function problem (err, source = 'action') {
  view.problemSource = source
  const box = document.getElementById('problem')
  box.hidden = false
  box.textContent = err instanceof ApiError
    ? (err.status === 401 ? `Not allowed: ${err.message}` : `${err.message} (${err.code})`)
    : `The agent does not answer (${err.message}). Is it still running?`
}

// ---- folders and peers ----

function folderSync (folder, peers) {
  if (folder.state !== 'idle') {
    const cls = folder.state === 'error' || folder.state === 'stopped' ? 'bad' : folder.state === 'paused' ? 'warn' : 'busy'
    return { cls, text: folder.state + (folder.reason ? `: ${folder.reason}` : '') }
  }
  const links = peers.filter(p => p.isConnected).flatMap(p => p.folders.filter(f => f.folder === folder.id).map(f => ({ peer: p, ...f })))
  if (links.length === 0) return { cls: 'warn', text: folder.sharedWith.length === 0 ? 'not shared' : 'no peer connected' }
  const receiving = links.filter(l => l.needFiles > 0)
  if (receiving.length > 0) return { cls: 'busy', text: `receiving ${receiving.reduce((n, l) => n + l.needFiles, 0)} files (${formatBytes(receiving.reduce((n, l) => n + l.needBytes, 0))})` }
  const sending = links.filter(l => l.peerNeedFiles > 0)
  if (sending.length > 0) return { cls: 'busy', text: `sending ${sending.reduce((n, l) => n + l.peerNeedFiles, 0)} files (${formatBytes(sending.reduce((n, l) => n + l.peerNeedBytes, 0))})` }
  if (links.some(l => !l.isInitialReceived)) return { cls: 'busy', text: 'comparing' }
  return { cls: 'ok', text: 'in sync' }
}

/** Share of the folder's bytes this device has, as far as the peers' outstanding work tells. */
function folderProgress (folder, peers) {
  const need = peers.filter(p => p.isConnected).flatMap(p => p.folders.filter(f => f.folder === folder.id)).reduce((n, f) => n + f.needBytes, 0)
  const total = folder.bytes + need
  return total === 0 ? 1 : folder.bytes / total
}

function renderFolders (s) {
  if (s.folders.length === 0) return el('p', { class: 'empty' }, 'No folders yet: add one with `lansync folder add PATH`.')
  return table(['Folder', 'State', 'Progress', 'Files', 'Size', 'Deleted', 'Held deletes', 'Problems', 'Path'], s.folders.map(f => {
    const sync = folderSync(f, s.peers)
    const share = folderProgress(f, s.peers)
    return el('tr', { 'data-folder': f.id },
      el('td', {}, el('strong', {}, f.label), el('br'), el('span', { class: 'muted' }, f.type)),
      el('td', {}, el('span', { class: `state ${sync.cls}` }, sync.text)),
      el('td', {}, el('progress', { max: 1, value: share.toFixed(4), 'aria-label': `${f.label} progress` }), ` ${Math.floor(share * 100)}%`),
      el('td', { class: 'num' }, f.files),
      el('td', { class: 'num' }, formatBytes(f.bytes)),
      el('td', { class: 'num' }, f.deleted),
      el('td', { class: 'num' }, f.pendingDeletes),
      el('td', { class: 'num' }, f.problems.length),
      el('td', {}, el('code', {}, f.path)))
  }))
}

function renderPeers (s) {
  if (s.peers.length === 0) return el('p', { class: 'empty' }, 'No paired devices yet: pair one with `lansync pair`.')
  return table(['Device', 'Connection', 'Folders', 'Received', 'Sent', 'Rate'], s.peers.map(p => el('tr', { 'data-device': p.deviceId },
    el('td', {}, el('strong', {}, p.name), el('br'), el('code', { class: 'muted' }, p.deviceId)),
    el('td', {}, p.isConnected
      ? [el('span', { class: 'state ok' }, 'connected'), el('br'), `${p.address ?? ''} (${p.via ?? 'lan'})`]
      : el('span', { class: 'state warn' }, 'not connected')),
    el('td', {}, p.isConnected ? (p.folders.map(f => `${f.label}: ${f.needFiles > 0 ? `receiving ${f.needFiles}` : f.peerNeedFiles > 0 ? `sending ${f.peerNeedFiles}` : f.isInitialReceived ? 'in sync' : 'comparing'}`).join('; ') || 'none shared') : '-'),
    el('td', { class: 'num' }, formatBytes(p.bytesReceived ?? 0)),
    el('td', { class: 'num' }, formatBytes(p.bytesSent ?? 0)),
    el('td', { class: 'num' }, p.isConnected ? `↓ ${formatBytes(Math.round(p.recvRateBps ?? 0))}/s ↑ ${formatBytes(Math.round(p.sendRateBps ?? 0))}/s` : ''))))
}

// ---- conflicts ----

function side (s) {
  if (s === undefined || s === null) return el('span', { class: 'muted' }, 'deleted')
  return [el('strong', {}, s.device), el('br'), formatTime(s.time), el('br'), formatBytes(s.sizeBytes), ' · ', el('code', { title: s.hash }, s.hash.slice(0, 12))]
}

function renderConflicts (conflicts) {
  if (conflicts.length === 0) return el('p', { class: 'empty', 'data-empty': 'conflicts' }, 'No unresolved conflicts.')
  return [
    el('p', { class: 'muted' }, 'Whichever version you keep, the other stays in history and can be restored.'),
    table(['Folder', 'Path', 'Mine (kept at the path)', 'Theirs (the conflict copy)', ''], conflicts.map(c => el('tr', { 'data-conflict': c.path, 'data-folder': c.folder },
      el('td', {}, c.label),
      el('td', {}, el('code', {}, c.path)),
      el('td', {}, side(c.winner)),
      el('td', {}, side(c.loser), el('br'), el('code', { class: 'muted' }, c.loser.path)),
      el('td', {}, ['mine', 'theirs', 'both'].map(keep => el('button', { class: 'action', type: 'button', 'data-keep': keep, onclick: event => resolve(event, c, keep) }, `Keep ${keep}`))))))
  ]
}

async function resolve (event, conflict, keep) {
  const row = event.target.closest('tr')
  for (const b of row.querySelectorAll('button')) b.disabled = true
  try {
    // The row's copy by name: a path with several copies has a row for each, resolved one by one.
    const r = await api('POST', '/api/conflicts/resolve', { folder: conflict.folder, path: conflict.loser.path, keep })
    notice(r.keptAs !== undefined ? `Resolved ${r.path}: kept both; the copy is now ${r.keptAs}.` : `Resolved ${r.path}: kept ${keep === 'mine' ? 'the version at the path' : 'the conflict copy'}; the other version is in history.`)
  } catch (err) {
    problem(err)
    for (const b of row.querySelectorAll('button')) b.disabled = false
  }
  await refresh()
}

// ---- history ----

function renderFolderChoice (folders) {
  const select = document.getElementById('history-folder')
  if (view.history.folder === '' && folders.length > 0) view.history.folder = folders[0].id
  show('history-folder', folders.map(f => [f.id, f.label]), () => folders.map(f => el('option', { value: f.id, selected: f.id === view.history.folder }, f.label)))
  select.value = view.history.folder
}

async function loadPaths () {
  const { folder, filter } = view.history
  if (folder === '') return
  try {
    const r = await api('GET', `/api/paths?folder=${encodeURIComponent(folder)}&filter=${encodeURIComponent(filter)}`)
    show('history-paths', r, () => [
      ...r.paths.map(p => el('li', {}, el('button', { type: 'button', class: p.isDeleted ? 'deleted' : '', 'data-path': p.path, 'aria-current': p.path === view.history.path ? 'true' : 'false', onclick: () => pickPath(p.path) }, p.path))),
      r.paths.length === 0 ? el('li', { class: 'muted' }, 'No paths.') : null,
      r.isTruncated ? el('li', { class: 'muted' }, 'More paths: narrow the filter.') : null
    ])
  } catch (err) { problem(err) }
}

async function pickPath (path) {
  view.history.path = path
  for (const b of document.querySelectorAll('#history-paths button')) b.setAttribute('aria-current', b.dataset.path === path ? 'true' : 'false')
  await loadVersions()
}

async function loadVersions () {
  const { folder, path } = view.history
  if (path === '') return
  try {
    const r = await api('GET', `/api/history?folder=${encodeURIComponent(folder)}&path=${encodeURIComponent(path)}`)
    if (view.history.folder !== folder || view.history.path !== path) return // another path was picked meanwhile
    show('history-versions', r, () => [
      el('h2', {}, 'Versions of ', el('code', {}, r.path)),
      table(['#', 'Recorded', 'Size', 'Device', 'Origin', 'Hash', ''], [...r.versions].reverse().map(v => el('tr', { 'data-version': v.number, 'data-hash': v.hash },
        el('td', { class: 'num' }, v.number),
        el('td', {}, formatTime(v.time)),
        el('td', { class: 'num' }, v.isDeleted ? 'deleted' : formatBytes(v.sizeBytes)),
        el('td', {}, v.device),
        el('td', {}, v.origin),
        el('td', {}, el('code', { title: v.hash }, v.hash.slice(0, 12))),
        el('td', {}, el('button', { class: 'action', type: 'button', disabled: v.isDeleted || v.kind === 'dir', onclick: event => restore(event, r.path, v.number) }, 'Restore')))))
    ])
  } catch (err) { problem(err) }
}

async function restore (event, path, number) {
  event.target.disabled = true
  try {
    const r = await api('POST', '/api/restore', { folder: view.history.folder, path, version: number })
    notice(`Restored version ${r.number} of ${r.path} (${formatBytes(r.sizeBytes)}); what was there is kept in history.`)
  } catch (err) { problem(err) }
  await loadVersions()
}

// ---- tabs and the refresh loop ----

function selectTab (tab) {
  view.tab = tab
  for (const b of document.querySelectorAll('nav [role="tab"]')) b.setAttribute('aria-selected', String(b.dataset.tab === tab))
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== tab
  if (tab === 'history') void loadPaths()
}

let isRefreshing = false
async function refresh () {
  if (isRefreshing || token === null) return
  isRefreshing = true
  try {
    const [status, { conflicts }] = await Promise.all([api('GET', '/api/status'), api('GET', '/api/conflicts')])
    view.status = status
    view.conflicts = conflicts
    document.getElementById('device').textContent = `${status.deviceName} · ${status.deviceId}`
    document.getElementById('live').textContent = `updated ${new Date().toLocaleTimeString()}`
    const count = document.getElementById('conflict-count')
    count.hidden = conflicts.length === 0
    count.textContent = String(conflicts.length)
    show('folders', { f: status.folders.map(({ lastScanMs, ...f }) => f), p: status.peers.map(p => ({ ...p, sendRateBps: Math.round(p.sendRateBps ?? 0), recvRateBps: Math.round(p.recvRateBps ?? 0) })) }, () => renderFolders(status))
    show('peers', status.peers, () => renderPeers(status))
    show('conflicts', conflicts, () => renderConflicts(conflicts))
    renderFolderChoice(status.folders)
    // The versions shown stay current too (a restore, or a change from a peer, adds one).
    if (view.tab === 'history') await loadVersions()
    if (view.problemSource === 'refresh') document.getElementById('problem').hidden = true
  } catch (err) {
    problem(err, 'refresh')
  } finally {
    isRefreshing = false
  }
}

for (const b of document.querySelectorAll('nav [role="tab"]')) b.addEventListener('click', () => selectTab(b.dataset.tab))
document.getElementById('history-folder').addEventListener('change', event => {
  view.history = { folder: event.target.value, filter: view.history.filter, path: '' }
  document.getElementById('history-versions').replaceChildren(el('p', { class: 'muted' }, 'Pick a path to see its versions.'))
  view.shown['history-versions'] = undefined
  void loadPaths()
})
let filterTimer
document.getElementById('history-filter').addEventListener('input', event => {
  clearTimeout(filterTimer)
  filterTimer = setTimeout(() => { view.history.filter = event.target.value; void loadPaths() }, 250)
})

if (token === null) {
  problem(new ApiError(401, 'UNAUTHORIZED', 'this page needs its access token: open the address `lansync dashboard url` prints'))
} else {
  // The next look comes REFRESH_MS after the last answer, or later when answers are slow (the
  // status counts every file of every folder): the page never keeps the agent busy.
  const loop = async () => {
    const startedMs = Date.now()
    if (!document.hidden) await refresh()
    setTimeout(loop, Math.max(REFRESH_MS, 4 * (Date.now() - startedMs)))
  }
  void loop()
}
