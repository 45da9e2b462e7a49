'use strict';
// inventory: the catalog with stock levels, and reservations for orders. In the sample mesh it
// runs in native mode: it serves mTLS itself with the SVID files the mesh keeps fresh (see
// lib/svid.js), as an application using spiffe-helper would.
const { HttpError, Recent, log, newId, readJson, startService, work } = require('../lib');

const catalog = new Map(
  [
    { sku: 'sku-mug', name: 'Lab mug', priceCents: 1200 },
    { sku: 'sku-tee', name: 'mTLS t-shirt', priceCents: 2400 },
    { sku: 'sku-stickers', name: 'SPIFFE sticker pack', priceCents: 350 },
    { sku: 'sku-hoodie', name: 'Zero-trust hoodie', priceCents: 5400 },
    { sku: 'sku-cable', name: 'Crossover cable', priceCents: 799 },
  ].map((item) => [item.sku, { ...item, stock: 100 }]),
);
const RESTOCK = 100;
const MAX_QTY = 20;
const reservations = new Recent();

startService({
  routes: [
    ['GET', '/api/items', () => ({ servedBy: 'inventory', items: [...catalog.values()] })],
    [
      'POST',
      '/api/reservations',
      async (req) => {
        const b = await readJson(req);
        const lines = Array.isArray(b.items) ? b.items : [];
        if (typeof b.orderId !== 'string' || lines.length === 0) {
          throw new HttpError(400, { error: 'bad-request', detail: 'inventory: send {"orderId": string, "items": [{"sku": string, "qty": 1..20}]}' });
        }
        for (const l of lines) {
          if (!catalog.has(l.sku)) throw new HttpError(400, { error: 'unknown-sku', sku: l.sku, detail: `inventory: there is no item ${l.sku}` });
          if (!Number.isInteger(l.qty) || l.qty < 1 || l.qty > MAX_QTY) {
            throw new HttpError(400, { error: 'bad-quantity', sku: l.sku, detail: `inventory: quantity for ${l.sku} must be 1 to ${MAX_QTY}` });
          }
        }
        await work(1, 5);
        const reserved = lines.map((l) => {
          const item = catalog.get(l.sku);
          if (item.stock < l.qty) {
            // The warehouse always has more: a restock keeps steady traffic from running dry.
            item.stock += RESTOCK;
            log.info(`restocked ${item.sku} (+${RESTOCK}, now ${item.stock})`);
          }
          item.stock -= l.qty;
          return { sku: item.sku, name: item.name, qty: l.qty, unitPriceCents: item.priceCents, stockLeft: item.stock };
        });
        const reservation = { servedBy: 'inventory', reservationId: newId('res'), orderId: b.orderId, items: reserved, createdAt: new Date().toISOString() };
        return { status: 201, body: reservations.set(reservation.reservationId, reservation) };
      },
    ],
  ],
});
