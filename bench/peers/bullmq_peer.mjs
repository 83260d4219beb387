// BullMQ + Redis: `node bullmq_peer.mjs N CONCURRENCY` enqueues N jobs (addBulk), then runs one
// Worker with CONCURRENCY jobs at once posting with Node's fetch (undici, keep-alive) until all
// are done; completed jobs are removed, like the others' results are not kept.
import { createHmac } from "node:crypto";
import { Queue, Worker } from "bullmq";

const [jobs, concurrency] = process.argv.slice(2).map(Number);
const redisUrl = new URL(process.env.PEER_REDIS_URL ?? "redis://127.0.0.1:6379/15");
const connection = { host: redisUrl.hostname, port: Number(redisUrl.port), db: Number(redisUrl.pathname.slice(1) || 0) };
const body = process.env.PEER_BODY;
const secret = Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64");
const receiver = process.env.PEER_RECEIVER_URL;

function headers(jobId) {
  const ts = String(Math.floor(Date.now() / 1000));
  const mac = createHmac("sha256", secret).update(`${jobId}.${ts}.${body}`).digest("base64");
  return {
    "content-type": "application/json", "user-agent": "peer-bench/1", "webhook-id": jobId,
    "webhook-timestamp": ts, "webhook-signature": `v1,${mac}`, "x-gateway-delivery-id": jobId,
    "x-gateway-attempt": "1",
  };
}

const queue = new Queue("peer-bench", { connection });
await queue.obliterate({ force: true });
const t0 = performance.now();
for (let start = 0; start < jobs; start += 1000) {
  const batch = [];
  for (let i = start; i < Math.min(jobs, start + 1000); i++) {
    batch.push({ name: "deliver", data: { id: `job_${i}` }, opts: { removeOnComplete: true, removeOnFail: true, attempts: 1 } });
  }
  await queue.addBulk(batch);
}
const enqueue = (performance.now() - t0) / 1000;
let done = 0;
const t1 = performance.now();
const finished = new Promise((resolve) => {
  const worker = new Worker("peer-bench", async (job) => {
    const response = await fetch(receiver, { method: "POST", body, headers: headers(job.data.id) });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`status ${response.status}`);
  }, { connection, concurrency });
  worker.on("completed", () => { done += 1; if (done >= jobs) resolve(worker); });
  setTimeout(() => resolve(worker), 600_000);
});
const worker = await finished;
const drain = (performance.now() - t1) / 1000;
await worker.close();
await queue.close();
console.log("RESULT " + JSON.stringify({ peer: "bullmq", jobs: done, enqueue_s: enqueue, drain_s: drain }));
process.exit(0);
