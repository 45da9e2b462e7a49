'use strict';
// billing: turns an order into an invoice (with VAT) and has payments capture it.
const { HttpError, Recent, newId, readJson, startService, upstream, work } = require('../lib');

const VAT_RATE = 0.2;
const payments = upstream('payments');
const invoices = new Recent();

startService({
  routes: [
    [
      'POST',
      '/api/invoices',
      async (req) => {
        const b = await readJson(req);
        if (typeof b.orderId !== 'string' || !Number.isInteger(b.subtotalCents) || b.subtotalCents <= 0) {
          throw new HttpError(400, { error: 'bad-request', detail: 'billing: send {"orderId": string, "customerId": string, "subtotalCents": positive integer, "currency": "EUR"}' });
        }
        await work(1, 4);
        const currency = b.currency || 'EUR';
        const taxCents = Math.round(b.subtotalCents * VAT_RATE);
        const invoiceId = newId('inv');
        const payment = await payments.post('/api/payments', { invoiceId, amountCents: b.subtotalCents + taxCents, currency });
        const invoice = {
          servedBy: 'billing',
          invoiceId,
          orderId: b.orderId,
          customerId: b.customerId || null,
          subtotalCents: b.subtotalCents,
          taxCents,
          totalCents: b.subtotalCents + taxCents,
          currency,
          status: payment.status === 'captured' ? 'paid' : 'unpaid',
          payment,
        };
        return { status: 201, body: invoices.set(invoiceId, invoice) };
      },
    ],
    [
      'GET',
      /^\/api\/invoices\/([\w-]+)$/,
      (_req, _res, ctx) => {
        const inv = invoices.get(ctx.params[0]);
        if (!inv) throw new HttpError(404, { error: 'not-found', detail: `billing: no invoice ${ctx.params[0]}` });
        return inv;
      },
    ],
  ],
});
