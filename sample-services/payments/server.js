'use strict';
// payments: captures card payments for invoices. Declines anything over the card limit.
const { HttpError, Recent, newId, readJson, startService, work } = require('../lib');

const CARD_LIMIT_CENTS = 150_000;
const payments = new Recent();

startService({
  routes: [
    [
      'POST',
      '/api/payments',
      async (req) => {
        const b = await readJson(req);
        if (typeof b.invoiceId !== 'string' || !Number.isInteger(b.amountCents) || b.amountCents <= 0) {
          throw new HttpError(400, { error: 'bad-request', detail: 'payments: send {"invoiceId": string, "amountCents": positive integer, "currency": "EUR"}' });
        }
        // The card network takes a moment.
        await work(3, 10);
        const declined = b.amountCents > CARD_LIMIT_CENTS;
        const payment = {
          servedBy: 'payments',
          paymentId: newId('pay'),
          invoiceId: b.invoiceId,
          amountCents: b.amountCents,
          currency: b.currency || 'EUR',
          status: declined ? 'declined' : 'captured',
          authCode: declined ? null : String(Math.floor(100000 + Math.random() * 900000)),
          declineReason: declined ? `over the card limit of ${CARD_LIMIT_CENTS / 100} ${b.currency || 'EUR'}` : null,
          createdAt: new Date().toISOString(),
        };
        return { status: 201, body: payments.set(payment.paymentId, payment) };
      },
    ],
    [
      'GET',
      /^\/api\/payments\/([\w-]+)$/,
      (_req, _res, ctx) => {
        const p = payments.get(ctx.params[0]);
        if (!p) throw new HttpError(404, { error: 'not-found', detail: `payments: no payment ${ctx.params[0]}` });
        return p;
      },
    ],
  ],
});
