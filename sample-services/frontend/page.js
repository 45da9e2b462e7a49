'use strict';
// The shop page: products, a cart, and the order the mesh carried back, hop by hop.

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function page(products) {
  const rows = products
    .map(
      (p) => `<li><span>${escapeHtml(p.name)}</span>
        <label>qty <input type="number" min="0" max="20" value="0" data-sku="${escapeHtml(p.sku)}" aria-label="Quantity of ${escapeHtml(p.name)}"></label></li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lab Shop · mTLS Lab sample</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d232a; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  p.sub { color: #5a6570; margin-top: 0; }
  ul { list-style: none; padding: 0; }
  li { display: flex; justify-content: space-between; padding: .4rem 0; border-bottom: 1px solid #e3e7eb; }
  input { width: 3.5rem; }
  button { font: inherit; padding: .4rem .9rem; margin-right: .5rem; }
  #status { margin: .8rem 0; font-weight: 600; }
  .ok { color: #1a7f37; } .fail { color: #b42318; }
  pre { background: #f4f6f8; padding: .8rem; overflow: auto; max-height: 24rem; font-size: 12px; }
</style>
</head>
<body>
<h1>Lab Shop</h1>
<p class="sub">frontend → orders → inventory, billing → payments: every hop below crossed the mesh.</p>
<ul id="products">
${rows}
</ul>
<button id="buy" type="button">Place order</button>
<button id="random" type="button">Surprise me</button>
<div id="status" role="status" aria-live="polite"></div>
<pre id="result" aria-label="Order as the services returned it"></pre>
<script>
  const status = document.getElementById('status');
  const result = document.getElementById('result');
  async function order(items) {
    status.textContent = 'Placing order…';
    status.className = '';
    try {
      const res = await fetch('/api/order', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items ? { items } : {}) });
      const body = await res.json();
      result.textContent = JSON.stringify(body, null, 2);
      if (res.ok) {
        const o = body.order;
        status.textContent = 'Order ' + o.orderId + ' ' + o.status + ': ' + (o.totalCents / 100).toFixed(2) + ' ' + o.currency + ' (' + body.tookMs + ' ms)';
        status.className = 'ok';
      } else {
        status.textContent = 'Failed with ' + res.status + ': ' + (body.detail || body.error || 'no detail');
        status.className = 'fail';
      }
    } catch (err) {
      status.textContent = 'Failed: ' + err.message;
      status.className = 'fail';
    }
  }
  document.getElementById('buy').addEventListener('click', () => {
    const items = [...document.querySelectorAll('input[data-sku]')]
      .map((i) => ({ sku: i.dataset.sku, qty: Number(i.value) }))
      .filter((l) => l.qty > 0);
    order(items.length ? items : null);
  });
  document.getElementById('random').addEventListener('click', () => order(null));
</script>
</body>
</html>
`;
}

module.exports = { page };
