export const DELIM: Buffer;
export const MAX_MESSAGE_BYTES: number;
export class WireError extends Error {}
export function sign(key: string, parts: (string | Buffer)[]): string;
export interface WireMessage {
  identities: Buffer[];
  header: { msg_id: string; msg_type: string; session?: string; username?: string; [k: string]: unknown };
  parent_header: Record<string, unknown>;
  metadata: Record<string, unknown>;
  content: any;
  buffers: Buffer[];
}
export function parseMessage(key: string, frames: Buffer[], maxBytes?: number): WireMessage;
export function encodeMessage(key: string, parent: { identities?: Buffer[]; header: Record<string, unknown> }, msgType: string, content: object, identities?: Buffer[]): (string | Buffer)[];
