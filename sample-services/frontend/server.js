'use strict';
// frontend: the shop's front door (the mesh's entry). Serves the page and /api/order, which
// places an order through orders. It is the only service a person talks to directly.
const { HttpError, readJson, sendHtml, startService, upstream } = require('../lib');
const { page } = require('./page');

// For the page and for random carts; prices are inventory's business.
const PRODUCTS = [
  { sku: 'sku-mug', name: 'Lab mug' },
  { sku: 'sku-tee', name: 'mTLS t-shirt' },
  { sku: 'sku-stickers', name: 'SPIFFE sticker pack' },
  { sku: 'sku-hoodie', name: 'Zero-trust hoodie' },
  { sku: 'sku-cable', name: 'Crossover cable' },
];

const orders = upstream('orders');
let customers = 0;

function randomCart() {
  const n = 1 + Math.floor(Math.random() * 3);
  const picked = [...PRODUCTS].sort(() => Math.random() - 0.5).slice(0, n);
  return picked.map((p) => ({ sku: p.sku, qty: 1 + Math.floor(Math.random() * 3) }));
}

async function placeOrder(req) {
  const b = req.method === 'POST' ? await readJson(req) : {};
  const items = Array.isArray(b.items) && b.items.length > 0 ? b.items : randomCart();
  const customerId = typeof b.customerId === 'string' ? b.customerId : `cust-${1000 + (customers++ % 9000)}`;
  const started = Date.now();
  const order = await orders.post('/api/orders', { customerId, items });
  return { servedBy: 'frontend', tookMs: Date.now() - started, order };
}

startService({
  routes: [
    ['GET', '/', (_req, res) => sendHtml(res, 200, page(PRODUCTS))],
    [['GET', 'POST'], '/api/order', placeOrder],
    [
      'GET',
      '/api/products',
      () => ({ servedBy: 'frontend', products: PRODUCTS }),
    ],
    [
      'GET',
      '/favicon.ico',
      () => {
        throw new HttpError(404, { error: 'not-found', detail: 'no icon' });
      },
    ],
  ],
});
