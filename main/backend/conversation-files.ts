// The Chat view's conversations on disk (backend worker), one folder each under <data>/conversations:
//   conversation.json        the pointer: the transcript, and the name, size and sha256 of the cache file
//   cache.<pid>-<t>.reskv    the engine's snapshot (token history + KV cache), under a fresh name per save
// A save writes the new cache file, then replaces conversation.json (one rename): a crash at any point
// leaves the previous transcript with its own cache, or the new pair, never a mix. Cache files no
// pointer names are deleted after the switch, or swept at start when a killed save left them.
// The previous layout (transcript.json and <id>.reskv-conversation, written one after the other) is
// still read; the next save of such a conversation moves it to this one.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Same } from '../api/same-type.js';
import type { TranscriptMessage } from '../api/types.js';
import { processIsAlive, writeFileAtomic } from '../atomic-file.js';
import { conversationIdSchema } from '../engine/conversation-id.js';

const replyFactsSchema = z.strictObject({
  depth: z.number().int().positive().nullable(),
  tokens: z.number().int().nonnegative(),
  decodeTokensPerSecond: z.number().nonnegative(),
  end: z.enum(['eos', 'stop-string', 'max-tokens', 'context-full', 'cancelled']),
  droppedTurns: z.number().int().nonnegative(),
  duringJobs: z.array(z.string()),
});
const messageSchema = z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string(), reply: replyFactsSchema.optional() });
// Compile-time check: the API's message type is exactly what a saved transcript holds.
const typesMatch: Same<z.infer<typeof messageSchema>, TranscriptMessage> = true;
void typesMatch;

export const transcriptSchema = z.strictObject({
  id: z.string(),
  model: z.string(),
  cache: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  forkedFrom: z.string().optional(),
  messages: z.array(messageSchema),
});
export type Transcript = z.infer<typeof transcriptSchema>;

export const savedConversationFormat = 'reskv-saved-conversation/2';
const pointerFile = 'conversation.json';
const cacheFilePattern = /^cache\.(\d+)-[0-9a-z]+\.reskv$/;
const pointerSchema = z.strictObject({
  format: z.literal(savedConversationFormat),
  transcript: transcriptSchema,
  cache: z.strictObject({ file: z.string().regex(cacheFilePattern), bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  /** sha256 of the JSON of the fields above: a damaged transcript is refused, not shown altered. */
  checksum: z.string(),
});
type Pointer = z.infer<typeof pointerSchema>;

function pointerChecksum({ format, transcript, cache }: Omit<Pointer, 'checksum'>): string {
  return sha256(new TextEncoder().encode(JSON.stringify({ format, transcript, cache })));
}

/** The previous layout's files. */
const legacyTranscript = 'transcript.json';
const legacyCache = (id: string) => `${id}.reskv-conversation`;

/** A saved conversation as listed: its transcript, or why it cannot be read. */
export type ListedConversation = { transcript: Transcript; problem: null } | { id: string; problem: string; modifiedAt: string };

export class ConversationFiles {
  constructor(readonly dir: string) {}

  folderOf(id: string): string {
    if (!conversationIdSchema.safeParse(id).success) throw new Error(`invalid conversation id '${id}'`);
    return join(this.dir, id);
  }

  /** Saves the transcript with its cache snapshot as one step (see the header). */
  save(transcript: Transcript, cache: Uint8Array): void {
    const folder = this.folderOf(transcript.id);
    const file = `cache.${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}.reskv`;
    writeFileAtomic(join(folder, file), cache);
    // parsed first, so the checksum covers the keys in the schema's order, as a reader sees them
    const content = pointerSchema.omit({ checksum: true }).parse({ format: savedConversationFormat, transcript, cache: { file, bytes: cache.length, sha256: sha256(cache) } });
    const pointer = { ...content, checksum: pointerChecksum(content) };
    try {
      writeFileAtomic(join(folder, pointerFile), `${JSON.stringify(pointerSchema.parse(pointer), null, 2)}\n`);
    } catch (err) {
      rmSync(join(folder, file), { force: true });
      throw err;
    }
    this.removeUnnamed(transcript.id, file);
  }

  /** The transcript (the pointer's, or the previous layout's), or an error naming the file and what is wrong. */
  readTranscript(id: string): Transcript {
    return this.read(id).transcript;
  }

  /** The transcript and the cache snapshot saved with it, checked against the pointer's size and sha256. */
  load(id: string): { transcript: Transcript; cache: Uint8Array; cacheFile: string } {
    const { transcript, cacheFile, expected } = this.read(id);
    let cache: Uint8Array;
    try {
      cache = new Uint8Array(readFileSync(cacheFile));
    } catch (err) {
      throw new Error(`conversation '${id}' cannot be read (${cacheFile}: ${(err as Error).message})`, { cause: err });
    }
    if (expected && (cache.length !== expected.bytes || sha256(cache) !== expected.sha256)) {
      throw new Error(`conversation '${id}' cannot be read (${cacheFile}: ${cache.length} bytes whose sha256 differs from the one ${pointerFile} records: the file is damaged)`);
    }
    return { transcript, cache, cacheFile };
  }

  private read(id: string): { transcript: Transcript; cacheFile: string; expected: { bytes: number; sha256: string } | null } {
    const folder = this.folderOf(id);
    const pointerPath = join(folder, pointerFile);
    const legacy = !existsSync(pointerPath) && existsSync(join(folder, legacyTranscript));
    const file = legacy ? join(folder, legacyTranscript) : pointerPath;
    try {
      const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (legacy) return { transcript: transcriptSchema.parse(raw), cacheFile: join(folder, legacyCache(id)), expected: null };
      const format = (raw as { format?: unknown } | null)?.format;
      if (format !== savedConversationFormat) throw new Error(`format ${JSON.stringify(format ?? null)}; this build reads ${savedConversationFormat} (and the earlier ${legacyTranscript})`);
      const pointer = pointerSchema.parse(raw);
      if (pointer.checksum !== pointerChecksum(pointer)) throw new Error('its content does not match its checksum: the file is damaged');
      if (pointer.transcript.id !== id) throw new Error(`it holds conversation '${pointer.transcript.id}'`);
      return { transcript: pointer.transcript, cacheFile: join(folder, pointer.cache.file), expected: pointer.cache };
    } catch (err) {
      const reason = err instanceof z.ZodError ? z.prettifyError(err) : (err as Error).message;
      throw new Error(`conversation '${id}' cannot be read (${file}: ${reason})`, { cause: err });
    }
  }

  /** Every saved conversation, newest first; a damaged one is listed with the reason. */
  list(): ListedConversation[] {
    if (!existsSync(this.dir)) return [];
    const listed: ListedConversation[] = [];
    for (const id of readdirSync(this.dir)) {
      if (id.startsWith('.') || !statSync(join(this.dir, id)).isDirectory()) continue;
      try {
        listed.push({ transcript: this.readTranscript(id), problem: null });
      } catch (err) {
        listed.push({ id, problem: (err as Error).message, modifiedAt: statSync(join(this.dir, id)).mtime.toISOString() });
      }
    }
    const when = (c: ListedConversation) => (c.problem === null ? c.transcript.updatedAt : c.modifiedAt);
    return listed.sort((a, b) => when(b).localeCompare(when(a)));
  }

  remove(id: string): void {
    rmSync(this.folderOf(id), { recursive: true, force: true });
  }

  /**
   * Deletes what killed saves left: temporary files, cache files no pointer names (of processes no
   * longer running), and the previous layout's files once a pointer replaced them.
   */
  sweep(): string[] {
    if (!existsSync(this.dir)) return [];
    const swept: string[] = [];
    for (const id of readdirSync(this.dir)) {
      if (!conversationIdSchema.safeParse(id).success || !statSync(join(this.dir, id)).isDirectory()) continue;
      let named: string;
      try {
        named = basename(this.read(id).cacheFile);
      } catch {
        continue; // a damaged conversation is left as it is, for the operator to see
      }
      swept.push(...this.removeUnnamed(id, named, true).map((f) => join(id, f)));
    }
    return swept;
  }

  /** Removes the folder's files other than the pointer and `keep`; with `onlyDead`, keeps those of running writers. */
  private removeUnnamed(id: string, keep: string, onlyDead = false): string[] {
    const folder = this.folderOf(id);
    if (!existsSync(join(folder, pointerFile))) return [];
    const removed: string[] = [];
    for (const file of readdirSync(folder)) {
      if (file === pointerFile || file === keep) continue;
      const writer = Number((cacheFilePattern.exec(file) ?? /\.(\d+)\.\d+\.tmp$/.exec(file))?.[1]);
      if (onlyDead && Number.isInteger(writer) && processIsAlive(writer)) continue;
      rmSync(join(folder, file), { force: true });
      removed.push(file);
    }
    return removed;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
