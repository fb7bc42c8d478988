// The OpenAPI document of this server, rendered for people: operations by tag, with their
// parameters, request body and responses. Built from /openapi.json; nothing is fetched elsewhere.

const $ = (id) => document.getElementById(id);

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function schemaName(schema) {
  if (!schema) return '';
  if (schema.$ref) return schema.$ref.split('/').pop();
  if (schema.type === 'array') return `array of ${schemaName(schema.items)}`;
  return schema.type || '';
}

function render(doc) {
  $('status').textContent = `${doc.info.title} ${doc.info.version}: ${doc.info.description || ''}`;
  const byTag = new Map();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags && op.tags[0]) || 'other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method: method.toUpperCase(), op });
    }
  }
  const tagInfo = new Map((doc.tags || []).map((t) => [t.name, t.description]));
  const toc = el('ul');
  for (const [tag, ops] of byTag) {
    const id = `tag-${tag}`;
    const li = el('li');
    li.append(el('a', tag, { href: `#${id}` }));
    toc.append(li);
    const section = el('section', null, { id, 'aria-labelledby': `${id}-h` });
    section.append(el('h2', tag, { id: `${id}-h` }));
    if (tagInfo.get(tag)) section.append(el('p', tagInfo.get(tag), { class: 'hint' }));
    for (const { path, method, op } of ops) {
      const article = el('article', null, { class: 'operation' });
      const h = el('h3');
      h.append(el('code', `${method} ${path}`, { class: 'signature' }));
      article.append(h);
      if (op.description || op.summary) article.append(el('p', op.summary || op.description));
      if (op.security && op.security.length) article.append(el('p', 'Needs a bearer token.', { class: 'hint' }));
      if (op.parameters && op.parameters.length) {
        const table = el('table');
        const head = el('tr');
        for (const t of ['Parameter', 'In', 'Type', 'About']) head.append(el('th', t, { scope: 'col' }));
        const thead = el('thead');
        thead.append(head);
        table.append(thead);
        const body = el('tbody');
        for (const p of op.parameters) {
          const tr = el('tr');
          tr.append(el('td', `${p.name}${p.required ? '' : ' (optional)'}`), el('td', p.in), el('td', schemaName(p.schema)), el('td', p.description || ''));
          body.append(tr);
        }
        table.append(body);
        article.append(table);
      }
      const request = op.requestBody && op.requestBody.content;
      if (request) {
        const [type, media] = Object.entries(request)[0];
        article.append(el('p', `Body: ${type} ${schemaName(media.schema)}`));
      }
      const list = el('ul');
      for (const [status, r] of Object.entries(op.responses || {})) {
        list.append(el('li', `${status}: ${r.description || ''}`));
      }
      article.append(list);
      section.append(article);
    }
    $('operations').append(section);
  }
  $('toc').append(toc);
}

fetch('/openapi.json')
  .then((r) => r.json())
  .then(render)
  .catch((e) => { $('status').textContent = `Cannot read the document: ${e.message}`; });
