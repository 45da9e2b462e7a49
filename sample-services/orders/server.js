'use strict';
// orders: places an order: reserves the items at inventory, then has billing invoice and charge it.
const { HttpError, Recent, newId, readJson, startService, upstream } = require('../lib');

const inventory = upstream('inventory');
const billing = upstream('billing');
const orders = new Recent();

startService({
  routes: [
    [
      'POST',
      '/api/orders',
      async (req) => {
        const b = await readJson(req);
        if (!Array.isArray(b.items) || b.items.length === 0) {
          throw new HttpError(400, { error: 'bad-request', detail: 'orders: send {"customerId": string, "items": [{"sku": string, "qty": number}]}' });
        }
        const orderId = newId('ord');
        const customerId = typeof b.customerId === 'string' ? b.customerId : 'guest';
        const reservation = await inventory.post('/api/reservations', { orderId, items: b.items });
        const subtotalCents = reservation.items.reduce((sum, l) => sum + l.unitPriceCents * l.qty, 0);
        const invoice = await billing.post('/api/invoices', { orderId, customerId, subtotalCents, currency: 'EUR' });
        const order = {
          servedBy: 'orders',
          orderId,
          customerId,
          status: invoice.status === 'paid' ? 'confirmed' : 'payment-declined',
          items: reservation.items.map((l) => ({ sku: l.sku, name: l.name, qty: l.qty, unitPriceCents: l.unitPriceCents })),
          subtotalCents,
          totalCents: invoice.totalCents,
          currency: invoice.currency,
          createdAt: new Date().toISOString(),
          reservation,
          invoice,
        };
        return { status: 201, body: orders.set(orderId, order) };
      },
    ],
    [
      'GET',
      /^\/api\/orders\/([\w-]+)$/,
      (_req, _res, ctx) => {
        const o = orders.get(ctx.params[0]);
        if (!o) throw new HttpError(404, { error: 'not-found', detail: `orders: no order ${ctx.params[0]}` });
        return o;
      },
    ],
  ],
});
