/**
 * The load bench's heartbeat probe, in a process of its own so that the bench's stream clients
 * do not delay it: sends a heartbeat every 20 ms on one connection and records round trips under
 * the label the bench last sent ({ label }), or none while the label is null. On { report } it
 * sends back every label's round trips and exits.
 */
import WebSocket from "ws";

const url = process.argv[2];
const rtts = new Map<string, number[]>();
let label: string | null = null;
const sent = new Map<string, { at: number; label: string | null }>();

const socket = new WebSocket(url);
socket.on("open", () => {
  let n = 0;
  setInterval(() => {
    const id = `hb-${n++}`;
    sent.set(id, { at: performance.now(), label });
    socket.send(JSON.stringify({ header: { message_id: id, message_type: "heartbeat", protocol_version: "2.0", timestamp: new Date().toISOString() }, worker_id: "bench" }));
  }, 20);
  process.send!({ ready: true });
});
socket.on("message", (data) => {
  const id = JSON.parse(String(data)).header?.correlation_id;
  const entry = sent.get(id);
  if (!entry) return;
  sent.delete(id);
  if (entry.label !== null) rtts.set(entry.label, [...(rtts.get(entry.label) ?? []), performance.now() - entry.at]);
});
process.on("message", (message: { label?: string | null; report?: true }) => {
  if (message.report) {
    process.send!({ rtts: Object.fromEntries(rtts) }, () => process.exit(0));
    return;
  }
  label = message.label ?? null;
});
