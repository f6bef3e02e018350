// The Jupyter wire protocol, kernel side: [identities…, "<IDS|MSG>", signature, header, parent, metadata, content,
// buffers…]. A message is accepted only when its HMAC-SHA256 signature checks out, and the signature is checked on the
// raw bytes BEFORE any JSON is parsed, so an unsigned or forged message costs a hash and nothing more. Messages are
// bounded in size (MAX_MESSAGE_BYTES): ZeroMQ drops a larger one before it is buffered (the sockets' maxMessageSize),
// and parseMessage refuses one again here.
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

export const DELIM = Buffer.from("<IDS|MSG>");
/** The largest message the kernel accepts: a cell's code and a notebook's requests are far below it. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export class WireError extends Error {}

/** HMAC-SHA256 over the four JSON parts, hex (Jupyter's signature scheme). */
export function sign(key, parts) {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/**
 * Frames → { identities, header, parent_header, metadata, content, buffers }. Throws WireError (without parsing
 * anything) when the message is too large, has no delimiter, or its signature is wrong.
 * @param {string} key the connection file's key
 * @param {Buffer[]} frames
 */
export function parseMessage(key, frames, maxBytes = MAX_MESSAGE_BYTES) {
  let total = 0;
  for (const f of frames) total += f.length;
  if (total > maxBytes) throw new WireError(`message of ${total} bytes refused (at most ${maxBytes})`);
  const d = frames.findIndex((f) => f.equals(DELIM));
  if (d < 0 || frames.length < d + 6) throw new WireError("malformed message (no <IDS|MSG> delimiter or missing parts)");
  const parts = frames.slice(d + 2, d + 6);
  const want = Buffer.from(sign(key, parts));
  const got = frames[d + 1];
  if (!(got.length === want.length && timingSafeEqual(got, want))) throw new WireError("invalid message signature: message ignored");
  const [header, parent_header, metadata, content] = parts.map((p) => JSON.parse(p.toString("utf8")));
  return { identities: frames.slice(0, d), header, parent_header, metadata, content, buffers: frames.slice(d + 6) };
}

/**
 * The frames of a message answering (or caused by) `parent`, signed.
 * @param {string} key
 * @param {{ identities?: Buffer[], header: object }} parent
 */
export function encodeMessage(key, parent, msgType, content, identities = parent.identities ?? []) {
  const header = {
    msg_id: randomUUID(), session: parent.header.session ?? "", username: parent.header.username ?? "kernel",
    date: new Date().toISOString(), msg_type: msgType, version: "5.3",
  };
  const parts = [JSON.stringify(header), JSON.stringify(parent.header), "{}", JSON.stringify(content)];
  return [...identities, DELIM, sign(key, parts), ...parts];
}
