// The imagehouse console: plain DOM, no build step. Every call goes through the session-authenticated
// /console/api; the AccessKey secret is sent once at sign-in and never stored in the browser.
const state = { session: null, region: 'cn-hangzhou', regions: [] };
const app = document.getElementById('app');

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

async function request(method, url, body, headers = {}) {
  const res = await fetch(url, { method, headers: { ...headers, ...(state.session ? { 'x-csrf-token': state.session.CsrfToken } : {}) }, body, credentials: 'same-origin' });
  const json = await res.json().catch(() => ({ Code: 'HTTP' + res.status, Message: res.statusText }));
  if (!res.ok || json.Code) throw Object.assign(new Error(json.Message), { code: json.Code, requestId: json.RequestId, status: res.status });
  return json;
}
const call = (action, params = {}) => request('POST', `/console/api/call/${action}`, JSON.stringify({ RegionId: state.region, ...params }), { 'content-type': 'application/json' });

const errorBox = (e) => h('p', { class: 'error', role: 'alert' }, `${e.code || 'Error'}: ${e.message}`, e.requestId ? ` (RequestId ${e.requestId})` : '');
const loading = () => h('p', { class: 'state', role: 'status' }, 'Loading…');
const statusCell = (s) => h('span', { class: `status-${s}` }, s);
function ago(iso) {
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < 45) return 'just now';
  for (const [n, u] of [[86400, 'day'], [3600, 'hour'], [60, 'minute']]) if (s >= n) { const k = Math.round(s / n); return `${k} ${u}${k > 1 ? 's' : ''} ago`; }
  return `${s} seconds ago`;
}
function tableOf(headers, rows, empty) {
  if (!rows.length) return h('p', { class: 'state' }, empty);
  return h('div', { class: 'tablewrap' }, h('table', {}, h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
}
/** Runs an async render into a container with loading and error states. */
async function fill(container, render) {
  container.replaceChildren(loading());
  try { container.replaceChildren(...[await render()].flat()); } catch (e) { container.replaceChildren(errorBox(e)); }
}
function form(fields, submitLabel, onSubmit, opts = {}) {
  const out = h('div', { role: 'status' });
  const f = h('form', { class: 'toolbar', 'aria-label': opts.label || submitLabel },
    fields.map(([name, label, attrs = {}]) => attrs.options
      ? h('label', {}, label, h('select', { name }, attrs.options.map((o) => h('option', { value: o }, o))))
      : h('label', {}, label, h('input', { name, ...attrs }))),
    h('button', { type: 'submit', class: opts.danger ? 'danger' : 'primary' }, submitLabel), out);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const values = Object.fromEntries(new FormData(f).entries());
    out.replaceChildren('Working…');
    try { out.replaceChildren(h('span', { class: 'notice' }, (await onSubmit(values, out)) || 'Done')); } catch (e) { out.replaceChildren(errorBox(e)); }
  });
  return f;
}

// ---- pages ----
const TABS = [['Public', 'system'], ['Custom', 'self'], ['Shared with me', 'others'], ['Marketplace', 'marketplace']];

function imagesPage(params) {
  const tab = params.get('tab') || 'self';
  const page = Number(params.get('page') || 1);
  const list = h('div');
  const search = form([['ImageName', 'Name', { value: params.get('ImageName') || '', placeholder: 'name or prefix*' }], ['ImageId', 'Image ID', { value: params.get('ImageId') || '' }],
    ['SnapshotId', 'Snapshot ID', { value: params.get('SnapshotId') || '' }], ['OSType', 'OS', { options: ['', 'linux', 'windows'] }], ['ImageFamily', 'Family', { value: params.get('ImageFamily') || '' }]],
  'Search', (v) => { go('images', { tab, ...v }); }, { label: 'Search images' });
  if (params.get('OSType')) search.elements.OSType.value = params.get('OSType');
  const filters = Object.fromEntries(['ImageName', 'ImageId', 'SnapshotId', 'OSType', 'ImageFamily'].map((k) => [k, params.get(k) || undefined]));
  fill(list, async () => {
    const res = await call('DescribeImages', { ImageOwnerAlias: tab, PageNumber: page, PageSize: 10, ...filters, ...(tab === 'self' ? { Status: 'Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated' } : {}) });
    const pages = Math.max(1, Math.ceil(res.TotalCount / 10));
    return [
      tableOf(['Image', 'Name', 'OS', 'Size', 'Status', 'Progress', 'Created'], res.Images.Image.map((i) => [
        h('a', { href: `#/image?id=${i.ImageId}&region=${state.region}` }, i.ImageId), i.ImageName, i.OSNameEn || i.OSName, `${i.Size} GiB`, statusCell(i.Status), i.Progress, ago(i.CreationTime)]),
      tab === 'self' ? 'No custom images yet. Import one or create one from an instance or snapshot.' : 'No images match.'),
      h('nav', { class: 'actions', 'aria-label': 'Pagination' },
        h('button', { disabled: page <= 1, onclick: () => go('images', { ...Object.fromEntries(params), page: page - 1 }) }, 'Previous'),
        h('span', {}, `Page ${page} of ${pages} (${res.TotalCount} images)`),
        h('button', { disabled: page >= pages, onclick: () => go('images', { ...Object.fromEntries(params), page: page + 1 }) }, 'Next')),
    ];
  });
  return [
    h('h2', {}, 'Images'),
    h('div', { class: 'tabs actions', role: 'tablist' }, TABS.map(([label, alias]) => h('button', { role: 'tab', 'aria-selected': String(alias === tab), onclick: () => go('images', { tab: alias }) }, label))),
    h('div', { class: 'card' }, search, list),
    h('div', { class: 'card' }, h('h3', {}, 'Create an image'),
      form([['SnapshotId', 'From snapshot ID'], ['InstanceId', 'or from instance ID'], ['ImageName', 'Name', { required: true }]], 'Create image',
        async (v) => { const r = await call('CreateImage', v); return h('a', { href: `#/image?id=${r.ImageId}&region=${state.region}` }, `Creating ${r.ImageId}`); }),
      h('a', { href: '#/import' }, 'Import a disk file…')),
  ];
}

function imageDetail(params) {
  const id = params.get('id');
  const body = h('div');
  fill(body, async () => {
    const res = await call('DescribeImages', { ImageId: id, Status: 'Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated', ShowExpired: true });
    const i = res.Images.Image[0];
    if (!i) return h('p', { class: 'state' }, `Image ${id} does not exist in ${state.region} (or you cannot see it).`);
    const own = i.ImageOwnerAlias === 'self';
    const shares = own ? (await call('DescribeImageSharePermission', { ImageId: id, PageSize: 100 })).Accounts.Account : [];
    const tasks = own ? (await call('DescribeTasks', { 'ResourceIds.1': id, PageSize: 10 })).TaskSet.Task : [];
    const cost = await launchCost(id);
    const reload = () => route();
    return [
      h('h2', {}, i.ImageName, ' ', statusCell(i.Status)),
      h('div', { class: 'card' }, h('dl', {},
        [['Image ID', i.ImageId], ['Owner', `${i.ImageOwnerAlias} (${i.ImageOwnerId})`], ['OS', `${i.OSNameEn || i.OSName} · ${i.Architecture} · ${i.BootMode}`], ['Size', `${i.Size} GiB`],
          ['Progress', h('span', {}, h('progress', { max: 100, value: parseInt(i.Progress, 10) || 0, 'aria-label': 'Image progress' }), ' ', i.Progress)], ['Family', i.ImageFamily || '—'], ['Created', `${i.CreationTime} (${ago(i.CreationTime)})`],
          ['Description', i.Description || '—'], ['Launch cost per hour', cost]].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))),
      h('div', { class: 'card' }, h('h3', {}, 'Disks'), tableOf(['Device', 'Type', 'Size', 'Snapshot', 'Progress'], i.DiskDeviceMappings.DiskDeviceMapping.map((d) => [d.Device, d.Type, `${d.Size} GiB`, d.SnapshotId || '—', d.Progress]), 'No disks.')),
      own && h('div', { class: 'card' }, h('h3', {}, 'Shared with'), tableOf(['Account', 'Since', ''], shares.map((a) => [a.AliyunId, ago(a.SharedTime),
        h('button', { onclick: async () => { await call('ModifyImageSharePermission', { ImageId: id, 'RemoveAccount.1': a.AliyunId }); reload(); } }, 'Unshare')]), 'Not shared with anyone.'),
      form([['account', 'Account ID', { required: true, pattern: '\\d+' }]], 'Share', async (v) => { await call('ModifyImageSharePermission', { ImageId: id, 'AddAccount.1': v.account }); reload(); }, { label: 'Share image' })),
      own && h('div', { class: 'card' }, h('h3', {}, 'Tasks'), tableOf(['Task', 'Action', 'Status', 'Created'], tasks.map((t) => [t.TaskId, t.TaskAction, statusCell(t.TaskStatus), ago(t.CreationTime)]), 'No tasks for this image.')),
      h('div', { class: 'card' }, h('h3', {}, 'Actions'),
        h('h4', {}, 'Launch an instance'), form([['InstanceType', 'Instance type', { value: 'ecs.g7.large', required: true }]], 'Launch', async (v) => `Launched ${(await call('RunInstances', { ImageId: id, InstanceType: v.InstanceType, Amount: 1 })).InstanceIdSets.InstanceIdSet.join(', ')}`),
        h('h4', {}, 'Replace a system disk with this image'), form([['InstanceId', 'Stopped instance ID', { required: true }]], 'Replace system disk', async (v) => `New disk ${(await call('ReplaceSystemDisk', { ImageId: id, InstanceId: v.InstanceId })).DiskId}`),
        own && [
          h('h4', {}, 'Copy to a region'), form([['DestinationRegionId', 'Region', { options: state.regions }], ['DestinationImageName', 'New name']], 'Copy', async (v) => `Copying as ${(await call('CopyImage', { ImageId: id, ...v })).ImageId} in ${v.DestinationRegionId}`),
          h('h4', {}, 'Export to a bucket'), form([['OSSBucket', 'Bucket', { required: true }], ['ImageFormat', 'Format', { options: ['raw', 'qcow2', 'vhd', 'vmdk'] }]], 'Export', async (v) => `Export task ${(await call('ExportImage', { ImageId: id, ...v })).TaskId}`),
          h('h4', {}, i.Status === 'Deprecated' ? 'Make available again' : 'Deprecate'),
          h('button', { onclick: async () => { await call('ModifyImageAttribute', { ImageId: id, Status: i.Status === 'Deprecated' ? 'Available' : 'Deprecated' }); reload(); } }, i.Status === 'Deprecated' ? 'Undeprecate' : 'Deprecate'),
          h('h4', {}, 'Delete'),
          h('p', {}, 'Deleting removes the image for you. Its snapshots stay (delete them on the Snapshots page), and disks created from it can no longer be re-initialised.'),
          shares.length > 0 && h('p', { class: 'notice' }, `It is shared with ${shares.length} account(s): unshare it first.`),
          form([['confirm', `Type the image ID to confirm`, { required: true, autocomplete: 'off' }]], 'Delete image', async (v) => {
            if (v.confirm !== id) throw Object.assign(new Error('the ID does not match'), { code: 'NotConfirmed' });
            await call('DeleteImage', { ImageId: id, Force: true });
            go('images', { tab: 'self' });
          }, { danger: true, label: 'Delete image' }),
        ]),
    ];
  });
  return [h('p', {}, h('a', { href: '#/images' }, '← Images')), body];
}

/** The image part of DescribePrice (licence + Marketplace fee) for one instance-hour of the default type. */
const PRICED_TYPE = 'ecs.g7.large';
async function launchCost(imageId) {
  try {
    const price = (await call('DescribePrice', { ImageId: imageId, InstanceType: PRICED_TYPE, PriceUnit: 'Hour', Period: 1 })).PriceInfo.Price;
    const image = price.DetailInfos.DetailInfo.find((d) => d.Resource === 'image');
    return `${money(image.TradePrice)} ${price.Currency} on ${PRICED_TYPE}`;
  } catch (e) {
    return `unavailable (${e.code || e.message})`;
  }
}
/** 0.2 or "0.200000" → "0.20"; keeps significant decimals beyond the cent ("0.012500" → "0.0125"). */
function money(v) {
  const [whole, frac = ''] = String(v).split('.');
  return `${whole}.${frac.replace(/0+$/, '').padEnd(2, '0')}`;
}

function importPage() {
  const bar = h('progress', { max: 100, value: 0, 'aria-label': 'Upload progress' });
  const text = h('span');
  const f = form([['file', 'Disk file (qcow2, VHD, VHDX, VMDK, raw)', { type: 'file', required: true }], ['ImageName', 'Image name', { required: true }], ['Platform', 'Platform', { value: 'Others Linux' }]], 'Upload and import', (v) => new Promise((resolve, reject) => {
    const file = f.elements.file.files[0];
    const qs = new URLSearchParams({ RegionId: state.region, ImageName: v.ImageName, Platform: v.Platform });
    const xhr = new XMLHttpRequest();
    const started = Date.now();
    xhr.open('POST', `/console/api/import?${qs}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('x-csrf-token', state.session.CsrfToken);
    xhr.upload.onprogress = (e) => {
      bar.value = Math.floor((100 * e.loaded) / (e.total || file.size));
      const rate = e.loaded / Math.max(0.001, (Date.now() - started) / 1000);
      text.textContent = ` ${(e.loaded / 1048576).toFixed(1)} of ${(file.size / 1048576).toFixed(1)} MiB, ${(rate / 1048576).toFixed(1)} MiB/s, ETA ${Math.round((file.size - e.loaded) / Math.max(rate, 1))}s`;
    };
    xhr.onload = () => {
      const r = JSON.parse(xhr.responseText);
      if (xhr.status >= 400 || r.Code) return reject(Object.assign(new Error(r.Message), { code: r.Code, requestId: r.RequestId }));
      bar.value = 100;
      resolve(h('a', { href: `#/image?id=${r.ImageId}&region=${state.region}` }, `Importing as ${r.ImageId} (task ${r.TaskId})`));
    };
    xhr.onerror = () => reject(new Error('upload failed'));
    xhr.send(file);
  }), { label: 'Import an image' });
  return [h('h2', {}, 'Import an image'), h('div', { class: 'card' }, f, h('p', {}, bar, text))];
}

function listPage(title, action, pick, headers, row, empty) {
  return () => {
    const body = h('div', { class: 'card' });
    fill(body, async () => tableOf(headers, pick(await call(action, { MaxResults: 100 })).map(row), empty));
    return [h('h2', {}, title), body];
  };
}
const instancesPage = listPage('Instances', 'DescribeInstances', (r) => r.Instances.Instance, ['Instance', 'Name', 'Image', 'Type', 'Status', 'Created'],
  (i) => [i.InstanceId, i.InstanceName, i.ImageId, i.InstanceType, statusCell(i.Status), ago(i.CreationTime)], 'No instances. Launch one from an image.');
const disksPage = listPage('Disks', 'DescribeDisks', (r) => r.Disks.Disk, ['Disk', 'Instance', 'Type', 'Size', 'Image', 'Status'],
  (d) => [d.DiskId, d.InstanceId, d.Type, `${d.Size} GiB`, d.ImageId, statusCell(d.Status)], 'No disks.');
const snapshotsPage = listPage('Snapshots', 'DescribeSnapshots', (r) => r.Snapshots.Snapshot, ['Snapshot', 'Name', 'Disk', 'Usage', 'Status', 'Created'],
  (s) => [s.SnapshotId, s.SnapshotName, s.SourceDiskId, s.Usage, statusCell(s.Status), ago(s.CreationTime)], 'No snapshots.');

function tasksPage() {
  const body = h('div', { class: 'card' });
  const draw = () => fill(body, async () => tableOf(['Task', 'Action', 'Resource', 'Status', 'Progress', 'Created'],
    (await call('DescribeTasks', { PageSize: 50 })).TaskSet.Task.map((t) => [t.TaskId, t.TaskAction, t.ResourceId, statusCell(t.TaskStatus), t.TaskProcess || '', ago(t.CreationTime)]), 'No tasks.'));
  draw();
  state.timer = setInterval(draw, 3000);
  return [h('h2', {}, 'Tasks'), h('p', {}, 'Refreshes every 3 seconds.'), body];
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** Cost per day as an inline SVG bar chart (one bar per day, value in each bar's tooltip). */
function dayChart(days, currency, month) {
  const W = 760, H = 220, left = 56, bottom = 24, top = 12;
  const max = Math.max(1, ...days.map((d) => d.amountCents));
  const step = (W - left - 8) / days.length;
  const y = (cents) => top + (H - top - bottom) * (1 - cents / max);
  const label = `Cost per day, ${month} (${currency})`;
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': label, class: 'chart' },
    svg('title', {}, label),
    [0, 0.5, 1].map((f) => [
      svg('line', { x1: left, x2: W - 8, y1: y(max * f), y2: y(max * f), class: 'grid' }),
      svg('text', { x: left - 6, y: y(max * f) + 4, 'text-anchor': 'end' }, money((max * f / 100).toFixed(2))),
    ]),
    days.map((d, i) => {
      const x = left + i * step;
      return [
        svg('rect', { x: x + 1, y: y(d.amountCents), width: Math.max(1, step - 2), height: H - bottom - y(d.amountCents), class: 'bar', 'data-day': d.day },
          svg('title', {}, `${d.day}: ${d.amount} ${currency}`)),
        (i === 0 || (i + 1) % 5 === 0) && svg('text', { x: x + step / 2, y: H - 8, 'text-anchor': 'middle' }, String(i + 1)),
      ];
    }));
}

const KIND_NAMES = { license: 'OS licence', marketplace_hourly: 'Marketplace (hourly)', marketplace_subscription: 'Marketplace subscription', marketplace_one_time: 'Marketplace (one-time)', snapshot_storage: 'Snapshot storage' };

function billingPage(params) {
  const body = h('div');
  fill(body, async () => {
    const month = params.get('month');
    const bill = await request('GET', `/console/api/billing${month ? `?Month=${encodeURIComponent(month)}` : ''}`);
    const picker = form([['Month', 'Month', { type: 'month', value: bill.month, required: true }]], 'Show', (v) => { go('billing', { month: v.Month }); }, { label: 'Choose a month' });
    const imageLink = (id) => id ? h('a', { href: `#/image?id=${id}&region=${state.region}` }, id) : '(no image)';
    return [
      h('div', { class: 'card' }, picker,
        h('h3', {}, `Bill for ${bill.month}`),
        tableOf(['Kind', 'Resource', 'Region', 'Detail', 'Hours', `Amount (${bill.currency})`], bill.lines.map((l) => [KIND_NAMES[l.kind] || l.kind, l.resourceId, l.region, l.detail, l.hours, l.amount]), `No usage in ${bill.month}.`),
        h('p', { class: 'total' }, h('strong', {}, `Total: ${bill.total} ${bill.currency}`))),
      h('div', { class: 'card' }, h('h3', {}, 'Cost per day'), dayChart(bill.days, bill.currency, bill.month)),
      h('div', { class: 'card' }, h('h3', {}, 'Snapshot storage per image'),
        tableOf(['Image', 'Snapshots', `Amount (${bill.currency})`], bill.storageByImage.map((g) => [imageLink(g.imageId), g.snapshotIds.join(', '), g.amount]), 'No snapshot storage this month.')),
    ];
  });
  return [h('h2', {}, 'Billing'), body];
}

function priceOf(p, currency) {
  switch (p.PriceModel) {
    case 'hourly': return p.HourlyPrices.HourlyPrice.map((t) => `${money(t.Price)} ${currency}/hour up to ${t.MaxVcpu} vCPU`).join('; ');
    case 'monthly': return `${money(p.MonthlyPrice)} ${currency}/month`;
    case 'byol': return `BYOL, ${money(p.OneTimePrice)} ${currency} once`;
    default: return 'Free';
  }
}

function marketplacePage() {
  const body = h('div', { class: 'card' });
  const draw = () => fill(body, async () => {
    const res = await call('DescribeMarketplaceProducts', {});
    return tableOf(['Product', 'Name', 'Supplier', 'Price', 'Versions', 'Subscription'], res.Products.Product.map((p) => [
      p.ProductCode, h('span', { title: p.Description }, p.ProductName), p.SupplierId, priceOf(p, res.Currency),
      p.Versions.Version.length ? p.Versions.Version.map((v) => h('a', { href: `#/image?id=${v.ImageId}&region=${state.region}` }, `${v.ImageVersion} `)) : '—',
      p.IsSubscribed ? h('span', { class: 'status-Available' }, 'Subscribed')
        : h('button', { class: 'primary', 'aria-label': `Subscribe to ${p.ProductCode}`, onclick: async (ev) => {
          ev.currentTarget.disabled = true;
          const button = ev.currentTarget;
          try { await call('SubscribeMarketplaceProduct', { ProductCode: p.ProductCode }); draw(); } catch (e) { button.replaceWith(errorBox(e)); }
        } }, 'Subscribe'),
    ]), `No Marketplace products in ${state.region}.`);
  });
  draw();
  return [h('h2', {}, 'Marketplace'), body];
}

// ---- shell ----
const PAGES = { images: imagesPage, image: imageDetail, import: importPage, instances: instancesPage, disks: disksPage, snapshots: snapshotsPage, tasks: tasksPage, billing: billingPage, marketplace: marketplacePage };
function go(page, params = {}) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));
  location.hash = `#/${page}${[...qs].length ? '?' + qs : ''}`;
}

function signIn() {
  const f = form([['accessKeyId', 'AccessKeyId', { required: true, autocomplete: 'username' }], ['accessKeySecret', 'AccessKeySecret', { type: 'password', required: true, autocomplete: 'current-password' }]], 'Sign in', async (v) => {
    state.session = await request('POST', '/console/api/session', JSON.stringify(v), { 'content-type': 'application/json' });
    await loadRegions();
    route();
  }, { label: 'Sign in' });
  app.replaceChildren(h('main', { id: 'main', class: 'signin card' }, h('h1', {}, 'imagehouse console'), h('p', {}, 'Sign in with an AccessKey pair. The secret is exchanged for a session and is not kept in the browser.'), f));
}

function route() {
  clearInterval(state.timer);
  if (!state.session) return signIn();
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const params = new URLSearchParams(query);
  if (params.get('region')) state.region = params.get('region');
  const name = PAGES[path] ? path : 'images';
  const regionSelect = h('select', { 'aria-label': 'Region', onchange: (e) => { state.region = e.target.value; route(); } }, state.regions.map((r) => h('option', { value: r, selected: r === state.region }, r)));
  const link = (p, label) => h('a', { href: `#/${p}`, 'aria-current': name === p || (p === 'images' && name === 'image') ? 'page' : undefined }, label);
  app.replaceChildren(
    h('header', {}, h('h1', {}, 'imagehouse'), h('nav', { 'aria-label': 'Main' }, link('images', 'Images'), link('import', 'Import'), link('instances', 'Instances'), link('disks', 'Disks'), link('snapshots', 'Snapshots'), link('tasks', 'Tasks'), link('marketplace', 'Marketplace'), link('billing', 'Billing')),
      h('div', { class: 'who' }, regionSelect, h('span', {}, `Account ${state.session.AccountId}`),
        h('button', { onclick: async () => { await request('DELETE', '/console/api/session'); state.session = null; route(); } }, 'Sign out'))),
    h('main', { id: 'main' }, PAGES[name](params)));
}

async function loadRegions() {
  try { state.regions = (await call('DescribeRegions', {})).Regions.Region.map((r) => r.RegionId); } catch { state.regions = [state.region]; }
}

async function start() {
  try { state.session = await request('GET', '/console/api/session'); } catch { state.session = null; }
  if (state.session) await loadRegions();
  window.addEventListener('hashchange', route);
  route();
}
start();
