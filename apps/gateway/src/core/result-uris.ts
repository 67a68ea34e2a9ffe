import { exposedUri } from './naming';

type Obj = Record<string, unknown>;

/**
 * A result from `server` with its resource URIs in the aggregated endpoint's form
 * (`tg://{server}/{uri}`), so the agent can read what the server just pointed to: resources/read
 * `contents`, and resource links and embedded resources in tools/call `content` and prompts/get
 * `messages`. A URI quoted in text or structuredContent is the server's prose and stays as is.
 */
export function exposeResultUris(server: string, result: Obj): Obj {
  const out: Obj = { ...result };
  if (Array.isArray(result.contents)) out.contents = result.contents.map((c) => withUri(server, c));
  if (Array.isArray(result.content)) out.content = result.content.map((b) => exposeBlock(server, b));
  if (Array.isArray(result.messages)) out.messages = result.messages.map((m) => exposeMessage(server, m));
  return out;
}

/** A prompt message holds one content block (sampling-style messages may hold an array). */
function exposeMessage(server: string, message: unknown): unknown {
  if (!isObj(message) || message.content === undefined) return message;
  const content = message.content;
  return { ...message, content: Array.isArray(content) ? content.map((b) => exposeBlock(server, b)) : exposeBlock(server, content) };
}

function exposeBlock(server: string, block: unknown): unknown {
  if (!isObj(block)) return block;
  if (block.type === 'resource_link') return withUri(server, block);
  if (block.type === 'resource' && isObj(block.resource)) return { ...block, resource: withUri(server, block.resource) };
  return block;
}

function withUri(server: string, item: unknown): unknown {
  return isObj(item) && typeof item.uri === 'string' ? { ...item, uri: exposedUri(server, item.uri) } : item;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
