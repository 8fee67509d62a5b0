/** The yardstick: an Express hello-world answering the webhook path, in its own process like the service. */
import express from 'express';

const app = express();
app.post('/webhooks/rt', (_req, res) => {
  res.status(202).json({ status: 'queued' });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as { port: number }).port}`);
});
